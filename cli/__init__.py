"""The `simtrial` command line (installed as the import package `simtrial_cli`)."""
