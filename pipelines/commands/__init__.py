"""The `lagebild` subcommands that are not pipeline runs."""
