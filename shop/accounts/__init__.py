"""Customer accounts: registration, sign-in, password reset, the account page."""
