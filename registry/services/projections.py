"""Projections: current state folded from the log, the same code live and on rebuild."""

from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from registry.store.models import Organisation

Applier = Callable[[Session, int, dict], None]
APPLIERS: dict[str, Applier] = {}

#: Modules whose appliers register themselves with @applies_to when imported.
MODULES = [
    "registry.services.catalogue",
    "registry.services.commissioning",
    "registry.services.lifecycle",
]
_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        import importlib

        for name in MODULES:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:  # a module that exists but fails to import is a bug
                    raise
        _loaded = True


def applies_to(*kinds: str):
    """Register a function that folds events of *kinds* into the projections."""

    def register(fn: Applier) -> Applier:
        for kind in kinds:
            APPLIERS[kind] = fn
        return fn

    return register


def apply(session: Session, index: int, body: dict) -> None:
    """Fold one event into the projections (kinds with no projection are skipped)."""
    _load()
    fn = APPLIERS.get(body["kind"])
    if fn is not None:
        fn(session, index, body)


@applies_to("register_organisation")
def _organisation_registered(session: Session, index: int, body: dict) -> None:
    data = body["data"]
    session.add(
        Organisation(
            id=data["id"],
            name=data["name"],
            kind=data["kind"],
            license_no=data["license_no"],
            region=data["region"],
            registered_index=index,
        )
    )
