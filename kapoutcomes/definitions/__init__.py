"""What things mean: outcome settings (cited), instruments, MME factor tables."""
