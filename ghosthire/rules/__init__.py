"""The rule pack: Sigma rules plus ghosthire's own metadata, loaded and validated."""

from ghosthire.rules.loader import PackRule, RulePack, load_pack
from ghosthire.rules.metadata import Guidance, RiskEntity, RuleMetadata

__all__ = ["Guidance", "PackRule", "RiskEntity", "RuleMetadata", "RulePack", "load_pack"]
