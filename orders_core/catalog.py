"""The Service Market: the services providers publish, and which of them can be ordered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders_core import errors
from orders_core.lifecycle import Party, ServiceStatus
from orders_core.models import PartyOrg, Service, Workspace, utcnow
from orders_core.names import clean_name, name_key
from orders_core.onboarding import find_party

SERVICE_TYPE = "mini_program_development"


@dataclass(frozen=True)
class ServiceView:
    """A service as the Service Market shows it."""

    id: int
    name: str
    provider_id: int
    provider_name: str
    industry: str
    service_type: str
    description: str
    apps: tuple[str, ...]
    payment_terms: str
    status: ServiceStatus

    @property
    def type_label(self) -> str:
        """ "Mini program development"."""
        return self.service_type.replace("_", " ").capitalize()


def _view(service: Service, provider_name: str) -> ServiceView:
    return ServiceView(
        id=service.id,
        name=service.name,
        provider_id=service.provider_id,
        provider_name=provider_name,
        industry=service.industry,
        service_type=service.service_type,
        description=service.description,
        apps=tuple(service.apps or ()),
        payment_terms=service.payment_terms,
        status=service.status,
    )


def add_service(
    session: Session,
    workspace: Workspace,
    *,
    provider_name: str,
    name: str,
    status: ServiceStatus = ServiceStatus.DRAFT,
    industry: str | None = None,
    description: str | None = None,
    apps: Sequence[str] | None = None,
    payment_terms: str | None = None,
) -> Service:
    """The service `name`, created if new; given details are updated."""
    name = clean_name(name)
    if not name:
        raise errors.InvalidInput({"name": "A service needs a name."})
    provider = find_party(session, workspace.id, provider_name, Party.PROVIDER)
    service = session.scalar(
        select(Service).where(
            Service.workspace_id == workspace.id, Service.name_key == name_key(name)
        )
    )
    if service is None:
        service = Service(
            workspace_id=workspace.id,
            provider_id=provider.id,
            name=name,
            service_type=SERVICE_TYPE,
            status=status,
            industry="",
            description="",
            apps=[],
            payment_terms="",
        )
        session.add(service)
    elif service.provider_id != provider.id:
        raise errors.Conflict(f"The service {name!r} belongs to another provider.")
    service.status = status
    if industry is not None:
        service.industry = industry
    if description is not None:
        service.description = description
    if apps is not None:
        service.apps = [a.strip() for a in apps if a.strip()]
    if payment_terms is not None:
        service.payment_terms = payment_terms
    service.updated_at = utcnow()
    session.flush()
    return service


def find_service(session: Session, workspace_id: int, name: str) -> Service:
    """A service of the workspace by name, in any case and any script (`name_key`)."""
    service = session.scalar(
        select(Service).where(
            Service.workspace_id == workspace_id, Service.name_key == name_key(name)
        )
    )
    if service is None:
        raise errors.ServiceNotFound(name)
    return service


def set_service_status(
    session: Session, workspace_id: int, name: str, status: ServiceStatus
) -> Service:
    """Move a service to another status (Online, Withdrawn, ...)."""
    service = find_service(session, workspace_id, name)
    service.status = status
    service.updated_at = utcnow()
    session.flush()
    return service


def list_services(
    session: Session, workspace_id: int, *, status: ServiceStatus | None = None
) -> list[ServiceView]:
    """The workspace's services, by name; only one status when asked."""
    query = (
        select(Service, PartyOrg.name)
        .join(PartyOrg, PartyOrg.id == Service.provider_id)
        .where(Service.workspace_id == workspace_id)
    )
    if status is not None:
        query = query.where(Service.status == status)
    return [_view(s, p) for s, p in session.execute(query.order_by(Service.name))]


def online_services(session: Session, workspace_id: int) -> list[ServiceView]:
    """What the Service Market offers: the Online services, by name."""
    return list_services(session, workspace_id, status=ServiceStatus.ONLINE)


def get_service(session: Session, workspace_id: int, service_id: int) -> ServiceView:
    """One service of the workspace by id, whatever its status."""
    row = session.execute(
        select(Service, PartyOrg.name)
        .join(PartyOrg, PartyOrg.id == Service.provider_id)
        .where(Service.workspace_id == workspace_id, Service.id == service_id)
    ).first()
    if row is None:
        raise errors.ServiceNotFound(f"#{service_id}")
    return _view(*row)
