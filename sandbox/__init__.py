"""A local Inter-Hub replica: the admin UI (IHP markup and behaviour) and the v2 API."""
