"""Configuration: pydantic models split by section, YAML loading with line-numbered errors."""

from camaudit.config.loader import load_config, parse_config
from camaudit.config.model import Config

__all__ = ["Config", "load_config", "parse_config"]
