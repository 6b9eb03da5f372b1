"""Settings, read once from the environment (or an `.env` file)."""
from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"


@dataclass(frozen=True)
class Merchant:
    """Who sells: the footer, the legal texts, the bank details for prepayment."""

    name: str = "Kiezkaufhaus GmbH"
    street: str = "Lindenstraße 12"
    postcode: str = "10969"
    city: str = "Berlin"
    country: str = "Deutschland"
    email: str = "hallo@kiezkaufhaus.example"
    phone: str = "+49 30 1234567"
    managing_director: str = "Jana Beispiel"
    register_court: str = "Amtsgericht Charlottenburg"
    register_number: str = "HRB 000000 B"
    vat_id: str = "DE000000000"
    bank_name: str = "Beispielbank Berlin"
    iban: str = "DE02 1001 0010 0006 8201 01"
    bic: str = "PBNKDEFFXXX"

    @classmethod
    def from_config(cls, config: Config) -> Merchant:
        return cls(**{
            name: config(f"MERCHANT_{name.upper()}", default=getattr(cls, name))
            for name in cls.__dataclass_fields__
        })


@dataclass(frozen=True)
class Mail:
    """SMTP delivery; without a host, mail is written to `data/outbox/` as .eml files."""

    host: str = ""
    port: int = 587
    user: str = ""
    password: str = ""
    starttls: bool = True
    sender: str = "Kiezkaufhaus <hallo@kiezkaufhaus.example>"
    outbox_dir: Path = DATA_DIR / "outbox"


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it, in one line."""


# Where the shop delivers: Germany and the other member states of the European Union
# (ISO 3166-1 alpha-2).
EU_COUNTRIES = tuple("AT BE BG CY CZ DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())
COUNTRIES = ("DE", *EU_COUNTRIES)


@dataclass(frozen=True)
class Shipping:
    """Flat shipping rates per zone, in cents; free above a threshold."""

    germany_cents: int = 490
    eu_cents: int = 1290
    free_from_cents: int = 5000
    express_cents: int = 990
    delivery_days: str = "2–4"


@dataclass(frozen=True)
class Payments:
    """The payment providers: each is offered only when its keys are set. The API bases
    point the providers' clients elsewhere (a local stand-in in tests and the demo)."""

    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""  # empty: https://api.stripe.com
    paypal_client_id: str = ""
    paypal_secret: str = ""
    paypal_webhook_id: str = ""
    paypal_api_base: str = "https://api-m.paypal.com"  # the sandbox: https://api-m.sandbox.paypal.com
    # Bank transfer: a reminder after this many days without payment, cancelled after that many.
    transfer_reminder_days: int = 7
    transfer_cancel_days: int = 14

    @property
    def stripe(self) -> bool:
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    @property
    def paypal(self) -> bool:
        return bool(self.paypal_client_id and self.paypal_secret and self.paypal_webhook_id)


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    debug: bool = False
    base_url: str = "http://127.0.0.1:8000"
    redis_url: str = ""
    media_dir: Path = DATA_DIR / "media"
    page_size: int = 24
    session_max_age: int = 14 * 24 * 3600
    csrf_time_limit: int = 4 * 3600
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed; none by default.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    order_link_days: int = 90
    # How long a writer waits for the database before the shop answers 503.
    database_wait_seconds: float = 5.0
    # Seconds between worker rounds run inside the web process (the demo); 0: none,
    # `shop worker` does the work.
    worker_in_process: float = 0.0
    # A product with this many or fewer left is "low" (a product may set its own).
    low_stock_threshold: int = 5
    # An uploaded product picture: at most this many bytes and pixels (width × height).
    image_max_bytes: int = 10 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    # CSV files uploaded in the back office: where they are kept until imported, the
    # largest taken, and from how many rows the worker checks and imports them.
    import_dir: Path = DATA_DIR / "imports"
    import_max_bytes: int = 50 * 1024 * 1024
    import_background_rows: int = 2000
    # An admin's session ends after this many minutes without a request (0: never);
    # customers' sessions are not affected.
    admin_idle_minutes: int = 30
    # Every admin must sign in with a second factor (TOTP): one without is sent to set it
    # up before any back-office page.
    admin_totp_required: bool = False
    # The demo serves stand-ins of the payment providers' APIs itself (shop.payments.demo_providers).
    demo_providers: bool = False
    merchant: Merchant = field(default_factory=Merchant)
    shipping: Shipping = field(default_factory=Shipping)
    mail: Mail = field(default_factory=Mail)
    payments: Payments = field(default_factory=Payments)

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_environ(cls, env_file: str | Path | None = None, **overrides) -> Settings:
        config = Config(env_file if env_file and Path(env_file).exists() else None)
        try:
            values = cls._read(config)
        except ValueError as error:  # not a number or a flag: Starlette names the variable
            raise ConfigError(str(error)) from None
        values.update(overrides)
        if not values["secret_key"]:
            if not values["debug"]:
                raise ConfigError(
                    "SECRET_KEY must be set (in the environment or a .env file), "
                    "or run with DEBUG=1 for a local, generated key."
                )
            values["secret_key"] = local_secret_key()
        return cls(**values)

    @staticmethod
    def _read(config: Config) -> dict:
        debug = config("DEBUG", cast=bool, default=False)
        return dict(
            database_url=config("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'shop.sqlite3'}"),
            secret_key=config("SECRET_KEY", default=""),
            debug=debug,
            base_url=config("BASE_URL", default="http://127.0.0.1:8000").rstrip("/"),
            redis_url=config("REDIS_URL", default=""),
            media_dir=Path(config("MEDIA_DIR", default=str(DATA_DIR / "media"))),
            trusted_proxies=networks(config("TRUSTED_PROXIES", default="")),
            order_link_days=config("ORDER_LINK_DAYS", cast=int, default=90),
            database_wait_seconds=config("DATABASE_WAIT_SECONDS", cast=float, default=5.0),
            worker_in_process=config("WORKER_IN_PROCESS", cast=float, default=0.0),
            low_stock_threshold=config("LOW_STOCK_THRESHOLD", cast=int, default=5),
            image_max_bytes=config("IMAGE_MAX_BYTES", cast=int, default=10 * 1024 * 1024),
            image_max_pixels=config("IMAGE_MAX_PIXELS", cast=int, default=40_000_000),
            import_dir=Path(config("IMPORT_DIR", default=str(DATA_DIR / "imports"))),
            import_max_bytes=config("IMPORT_MAX_BYTES", cast=int, default=50 * 1024 * 1024),
            import_background_rows=config("IMPORT_BACKGROUND_ROWS", cast=int, default=2000),
            admin_idle_minutes=config("ADMIN_IDLE_MINUTES", cast=int, default=30),
            admin_totp_required=config("ADMIN_TOTP_REQUIRED", cast=bool, default=False),
            demo_providers=config("DEMO_PROVIDERS", cast=bool, default=False),
            merchant=Merchant.from_config(config),
            shipping=Shipping(
                germany_cents=config("SHIPPING_DE_CENTS", cast=int, default=Shipping.germany_cents),
                eu_cents=config("SHIPPING_EU_CENTS", cast=int, default=Shipping.eu_cents),
                free_from_cents=config(
                    "FREE_SHIPPING_FROM_CENTS", cast=int, default=Shipping.free_from_cents
                ),
                express_cents=config("SHIPPING_EXPRESS_CENTS", cast=int, default=Shipping.express_cents),
            ),
            payments=Payments(
                stripe_secret_key=config("STRIPE_SECRET_KEY", default=""),
                stripe_webhook_secret=config("STRIPE_WEBHOOK_SECRET", default=""),
                stripe_api_base=config("STRIPE_API_BASE", default="").rstrip("/"),
                paypal_client_id=config("PAYPAL_CLIENT_ID", default=""),
                paypal_secret=config("PAYPAL_SECRET", default=""),
                paypal_webhook_id=config("PAYPAL_WEBHOOK_ID", default=""),
                paypal_api_base=config("PAYPAL_API_BASE", default=Payments.paypal_api_base).rstrip("/"),
                transfer_reminder_days=config("TRANSFER_REMINDER_DAYS", cast=int,
                                              default=Payments.transfer_reminder_days),
                transfer_cancel_days=config("TRANSFER_CANCEL_DAYS", cast=int, default=Payments.transfer_cancel_days),
            ),
            mail=Mail(
                host=config("SMTP_HOST", default=""),
                port=config("SMTP_PORT", cast=int, default=Mail.port),
                user=config("SMTP_USER", default=""),
                password=config("SMTP_PASSWORD", default=""),
                starttls=config("SMTP_STARTTLS", cast=bool, default=True),
                sender=config("MAIL_FROM", default=Mail.sender),
                outbox_dir=Path(config("OUTBOX_DIR", default=str(DATA_DIR / "outbox"))),
            ),
        )


def networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`10.0.0.1, 192.168.0.0/16` -> networks; a bad entry stops the start with its name."""
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"TRUSTED_PROXIES: {error}") from None


def local_secret_key(path: Path = DATA_DIR / "secret_key") -> str:
    """A random key kept in `data/` so local sessions survive restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
