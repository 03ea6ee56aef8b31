"""Company context as data: the identity and asset lookups (Splunk ES Asset & Identity columns), the
resolver that turns an alert's entity into a person, and the builder of both lookups from IdP, MDM,
GitHub and HR exports."""

from ghosthire.identities.directory import Conflict, Directory, EntityKind, Person, entity_key
from ghosthire.identities.lookups import (
    ASSET_COLUMNS,
    ASSETS_FILE,
    IDENTITIES_FILE,
    IDENTITY_COLUMNS,
    LookupProblem,
)

__all__ = [
    "ASSETS_FILE",
    "ASSET_COLUMNS",
    "IDENTITIES_FILE",
    "IDENTITY_COLUMNS",
    "Conflict",
    "Directory",
    "EntityKind",
    "LookupProblem",
    "Person",
    "entity_key",
]
