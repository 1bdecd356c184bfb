"""IR -> IR transformations: staging, forward and reverse mode, partial evaluation."""
