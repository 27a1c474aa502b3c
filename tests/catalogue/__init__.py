"""The catalogue of bad inputs: each with the exact error a user sees, and proof that nothing
was written for it."""
