"""The ``cgd-quality/1.0`` quality-metadata template: model, loading, JSON Schema."""

from cgd_bridge.metadata.load import LoadedMetadata, load_metadata
from cgd_bridge.metadata.model import PROFILE, QualityMetadata, RequiredAt

__all__ = ["PROFILE", "LoadedMetadata", "QualityMetadata", "RequiredAt", "load_metadata"]
