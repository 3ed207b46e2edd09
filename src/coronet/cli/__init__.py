"""The `coronet` command line; each subcommand maps flags to one library call."""
