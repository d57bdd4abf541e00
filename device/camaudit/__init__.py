"""camaudit: audits camera capture of people's faces against posted privacy notices."""

__version__ = "0.1.0"
