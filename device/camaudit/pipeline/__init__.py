"""The running device: feeds -> motion gate -> detector -> tracker -> captures -> journal."""
