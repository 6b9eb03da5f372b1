"""The texts the law asks a shop to show: imprint, terms, withdrawal, privacy, shipping."""
