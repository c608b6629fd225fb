"""Search by words: any case, any accent, any script, only the caller's party's orders, in pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from orders_core import errors
from orders_core.db import Database
from orders_core.names import search_key
from orders_core.orders import PartyRef, search_orders
from tests.support.databases import PostgresDatabase, require_postgres
from tests.support.world import World, build_world


def found(world: World, user: str, query: str, **kw: object) -> list[str]:
    """The mini programs of what `user` finds with `query`, in the order shown."""
    with world.db.read() as s:
        page = search_orders(s, world.caller(user).ref, query, **kw)  # type: ignore[arg-type]
    return [o.mini_program for o in page.orders]


def test_folding_drops_case_and_latin_accents_and_keeps_other_scripts_whole() -> None:
    """The same key for what a person would call the same word."""
    assert search_key("Łódź") == search_key("LODZ") == "lodz"
    assert search_key("Café") == search_key("CAFE") == search_key("cafe\u0301") == "cafe"
    assert search_key("Straße") == search_key("STRASSE") == "strasse"
    assert search_key("Phở Hà Nội") == "pho ha noi"
    assert search_key("Ｃａｆé") == "cafe"  # full-width letters
    # Marks that are part of a letter in other scripts stay: Thai vowels, kana voicing, Hangul.
    assert search_key("กาแฟ") == "กาแฟ"
    assert search_key("が") == "が"
    assert search_key("커피") == "커피"


def test_words_find_orders_in_any_case_accent_and_script(world: World) -> None:
    """`lodz` finds `Łódź`, `café` finds `CAFE`; every word must be there; any field counts."""
    world.place(mini_program="Łódź Bar", requirements="Loyalty STAMPS")
    world.place(mini_program="CAFE Corner", contact_name="Zoë Brontë")
    world.place(mini_program="Phở Hà Nội", requirements="Đặt bàn online")
    world.place(mini_program="咖啡店 Rewards", requirements="กาแฟ สะสมแต้ม")
    for query, wanted in (
        ("lodz", ["Łódź Bar"]),
        ("ŁÓDŹ", ["Łódź Bar"]),
        ("café", ["CAFE Corner"]),
        ("zoe bronte", ["CAFE Corner"]),  # the contact name
        ("stamps loyalty", ["Łódź Bar"]),  # every word, in any order
        ("pho dat ban", ["Phở Hà Nội"]),
        ("咖啡", ["咖啡店 Rewards"]),  # two characters: shorter than the indexes' trigrams
        ("咖啡店", ["咖啡店 Rewards"]),
        ("กาแฟ", ["咖啡店 Rewards"]),
        ("lodz cafe", []),  # both words in one order, or nothing
        ("nowhere", []),
    ):
        assert found(world, "U0ANA", query) == wanted, query
    # The merchant's and the provider's names are words of every order between them.
    everything = ["咖啡店 Rewards", "Phở Hà Nội", "CAFE Corner", "Łódź Bar"]
    assert found(world, "U0ANA", "pixel studio") == everything
    assert found(world, "U0PIA", "acme") == everything


def test_only_the_callers_party_orders_are_found(world: World) -> None:
    """Another merchant, an uninvolved provider: nothing, whatever the words."""
    world.place(mini_program="Łódź Bar")
    assert found(world, "U0PIA", "lodz") == ["Łódź Bar"]
    assert found(world, "U0BOB", "lodz") == []
    assert found(world, "U0RAJ", "lodz") == []
    assert found(world, "U0BOB", "acme") == []


def test_pages_newest_first_with_an_order_number_on_top(world: World) -> None:
    """Numbers first (the exact one on top), then words newest first, page after page, no order
    twice."""
    for k in range(1, 24):
        world.place(mini_program=f"Shop {k}", requirements=f"loyalty, see 1{k:02d}")
    merchant = world.caller("U0ANA").ref
    seen: list[str] = []
    cursor = None
    with world.db.read() as s:
        while True:
            page = search_orders(s, merchant, "loyalty", cursor=cursor, limit=10)
            seen += [o.mini_program for o in page.orders]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"Shop {k}" for k in range(23, 0, -1)]
        # "12": SO-000012 exactly (no number starts with 12: SO-12xxxx), then the words,
        # newest first: requirements "see 123", "see 122", "see 121", "see 120" (and "see 112",
        # SO-000012's own, is not shown twice).
        first = search_orders(s, merchant, "12", limit=3)
        rest = search_orders(s, merchant, "12", cursor=first.next_cursor, limit=3)
    assert [o.mini_program for o in first.orders] == ["Shop 12", "Shop 23", "Shop 22"]
    assert [o.mini_program for o in rest.orders] == ["Shop 21", "Shop 20"]
    assert rest.next_cursor is None


def test_a_page_filled_by_numbers_leads_to_the_words(world: World) -> None:
    """When order numbers fill the first page, the words start on the next."""
    world.place(mini_program="One")  # SO-000001
    world.place(mini_program="Two", requirements="call 1 first")
    merchant = world.caller("U0ANA").ref
    with world.db.read() as s:
        first = search_orders(s, merchant, "1", limit=1)
        second = search_orders(s, merchant, "1", cursor=first.next_cursor, limit=1)
    assert [o.mini_program for o in first.orders] == ["One"]
    assert [o.mini_program for o in second.orders] == ["Two"]
    assert second.next_cursor is None


def test_wildcards_and_quotes_are_plain_characters(world: World) -> None:
    """`%`, `_`, `"` and `\\` find themselves, never everything."""
    world.place(mini_program="Half", requirements='50% off, "gold"_tier \\ more')
    world.place(mini_program="Other", requirements="nothing special")
    assert found(world, "U0ANA", "50%") == ["Half"]
    assert found(world, "U0ANA", "%") == ["Half"]
    assert found(world, "U0ANA", "_") == ["Half"]
    assert found(world, "U0ANA", '"gold"_tier') == ["Half"]
    assert found(world, "U0ANA", "\\") == ["Half"]
    assert found(world, "U0ANA", "o%r") == []


def test_nothing_to_search_for_is_a_clear_error(world: World) -> None:
    """Blank text, or only invisible characters: say what would work."""
    for blank in ("", "   ", "\u200b\u2060"):
        with pytest.raises(errors.InvalidInput, match=r"order number .* or words"):
            found(world, "U0ANA", blank)


def test_a_long_search_in_any_script_is_answered(world: World) -> None:
    """3,000 characters of mixed scripts and `<&>`: a page (empty), not an error."""
    world.place(mini_program="Łódź Bar")
    assert found(world, "U0ANA", ("Łódź <&> 咖啡 " * 300)[:3000]) == []
    assert found(world, "U0ANA", "łódź " * 600) == ["Łódź Bar"]


def test_the_sqlite_index_stays_in_step(sqlite_db: Database) -> None:
    """Orders written in the same transaction as their index rows: FTS5's own check agrees."""
    world = build_world(sqlite_db)
    for k in range(5):
        world.place(mini_program=f"Café {k}")
    with sqlite_db.transaction() as s:
        s.execute(text("INSERT INTO orders_search (orders_search) VALUES ('integrity-check')"))
        indexed = s.scalar(
            text("SELECT count(*) FROM orders_search WHERE orders_search MATCH 'caf'")
        )
    assert indexed == 5


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An empty database, migrated here, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield db
        db.dispose()
        return
    require_postgres()
    pg = PostgresDatabase()
    db = Database(pg.url)
    yield db
    db.dispose()
    pg.drop()


def test_orders_placed_before_the_upgrade_are_found(fresh_db: Database) -> None:
    """Migration 0011 folds the text of the orders already there."""
    fresh_db.upgrade()
    world = build_world(fresh_db)
    world.place(mini_program="Łódź Bar", contact_name="Zoë")
    fresh_db.upgrade("0010")
    fresh_db.upgrade()
    assert found(world, "U0ANA", "lodz zoe") == ["Łódź Bar"]
    assert found(world, "U0PIA", "acme") == ["Łódź Bar"]
    with fresh_db.read() as s:
        ref: PartyRef = world.caller("U0ANA").ref
        assert [o.mini_program for o in search_orders(s, ref, "1").orders] == ["Łódź Bar"]
