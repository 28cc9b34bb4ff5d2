"""What really happened: renewal outcomes, and history imported from another platform."""
