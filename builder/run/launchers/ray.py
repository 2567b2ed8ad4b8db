"""Hydra's Ray launcher: the jobs run as Ray tasks (on a Ray cluster where one is set up)."""

HYDRA_NAME = "ray"
PACKAGE = "hydra-ray-launcher"
PLUGIN_MODULE = "hydra_plugins.hydra_ray_launcher"
