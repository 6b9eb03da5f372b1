"""The catalogue: categories, products, search and the pages that show them."""
