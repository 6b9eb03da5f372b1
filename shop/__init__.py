"""A web shop for German and EU merchants."""
