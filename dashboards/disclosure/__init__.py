"""Statistical disclosure control for the publication grid: joint suppression and its audit."""
