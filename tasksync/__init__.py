"""tasksync: configuration as code for Apify Actor tasks."""

__version__ = "0.1.0"
