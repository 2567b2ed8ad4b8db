"""Hydra's joblib launcher: the jobs run in parallel processes on this machine."""

HYDRA_NAME = "joblib"
PACKAGE = "hydra-joblib-launcher"
PLUGIN_MODULE = "hydra_plugins.hydra_joblib_launcher"
