"""The back office: one module per area (products, categories, stock, imports, …), their
routes assembled in `routes`, all behind the admin guard."""
