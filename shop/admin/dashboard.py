"""The back office's first page: how the shop is doing.

What counts (the page says it in short, too):

- Periods are the merchant's days in the shop's time zone (Europe/Berlin): "today" from
  local midnight, "7 days" and "30 days" are today and the 6 (29) days before it. A day
  has 23 or 25 hours when the clocks change; its bounds are computed here, in Python, and
  the database sorts each order into its day with one CASE over those bounds.
- Orders: orders placed in the period, except those cancelled or refunded in full
  (status cancelled or refunded). Orders awaiting payment count: this is what was ordered.
- Revenue (gross): the totals of those orders (goods and shipping, with VAT), less what
  was paid back on them by partial refunds (succeeded rows of the refund table). A refund
  counts against the day the order was placed, so a day's figure is final once nothing
  is paid back on its orders any more.
- Revenue (net): the same without VAT: total − VAT of each order, less the net part of
  its refunds (the refund × the order's net share, rounded to the cent).
- Average order value: gross revenue ÷ orders.
- New customers: customer accounts registered in the period.
- Orders by state: all orders, by their current state.
- Top products: the products still in the catalogue whose order lines in the last 30
  days brought the most gross revenue (lines of orders that count, as above).
- Funnel, last 30 days: carts created → checkouts started (a cart whose checkout's first
  step was saved; a cart counts once, with its latest checkout) → orders placed (all, even
  those cancelled later).

Every figure comes from SQL aggregates, in a fixed number of queries (seven; about 0.1 s
at 100,000 orders and products on SQLite). They are kept for the minute they were computed
in ("Stand: 14:32"), per process, and the part of the page that shows them is rendered once
per language in that minute; the latest orders are read afresh on every request.
"""
from __future__ import annotations

import datetime as dt
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_date as babel_date
from babel.numbers import format_percent
from markupsafe import Markup
from peewee import JOIN, Case, Select, fn
from starlette.requests import Request
from starlette.routing import Route

from shop.accounts.models import CUSTOMER, User
from shop.cart.models import Cart
from shop.catalog.models import Product
from shop.db import db, now, run_db
from shop.i18n import SHOP_TIMEZONE, babel_locale
from shop.orders.models import CANCELLED, REFUNDED, SUCCEEDED, TRANSITIONS, Order, OrderLine, Refund
from shop.web import render

DAYS = 30  # the chart's days, and the longest period
LATEST_ORDERS = 10
TOP_PRODUCTS = 10
LOW_STOCK_SHOWN = 8
NOT_COUNTED = (CANCELLED, REFUNDED)  # orders that are no revenue
CHART_WIDTH, CHART_HEIGHT = 600, 200  # the SVG's own units; it scales to the page
PANELS = "fragments/admin/dashboard.html"


# -- the day bounds --------------------------------------------------------------------

def midnight(day: dt.date) -> dt.datetime:
    """The start of a day in the shop's time zone, as the naive UTC time the tables store."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=SHOP_TIMEZONE)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def local_day(moment: dt.datetime) -> dt.date:
    """The shop's calendar day of a stored (naive UTC) time."""
    return moment.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE).date()


# -- the figures -------------------------------------------------------------------------

@dataclass
class Day:
    day: dt.date
    orders: int = 0
    gross_cents: int = 0
    net_cents: int = 0
    placed: int = 0  # every order placed that day, cancelled ones too (the funnel's last step)


@dataclass
class Period:
    key: str
    orders: int
    gross_cents: int
    net_cents: int
    new_customers: int

    @property
    def average_cents(self) -> int | None:
        return round(self.gross_cents / self.orders) if self.orders else None


@dataclass
class Figures:
    computed_at: dt.datetime  # naive UTC
    days: list[Day]
    periods: list[Period]
    by_state: list[tuple[str, int]]
    top_products: list[tuple[int, str, str, int, int]]  # id, name, sku, quantity, gross cents
    low_stock: list[tuple[int, str, str, int, int]]  # id, name, sku, stock, threshold
    low_stock_count: int
    funnel: dict[str, int] = field(default_factory=dict)  # carts, checkouts, orders
    views: dict[str, dict] = field(default_factory=dict)  # per locale: what the page shows of them

    def view(self, locale: str) -> dict:
        """The chart, the funnel's shares and the time, worded for `locale`: made once for
        the minute's figures, not on every request."""
        if locale not in self.views:
            funnel = self.funnel
            self.views[locale] = {
                "chart": chart(self.days, locale),
                "computed_at": self.computed_at.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE),
                "conversion": {"checkouts": percent(funnel["checkouts"], funnel["carts"], locale),
                               "orders": percent(funnel["orders"], funnel["checkouts"], locale),
                               "overall": percent(funnel["orders"], funnel["carts"], locale)},
            }
        return self.views[locale]


def compute(today: dt.date, default_threshold: int, at: dt.datetime) -> Figures:
    """Every figure of the page for the shop's day `today`, in seven queries."""
    first = today - dt.timedelta(days=DAYS - 1)
    days = [Day(first + dt.timedelta(days=n)) for n in range(DAYS)]
    bounds = [midnight(d.day) for d in days] + [midnight(today + dt.timedelta(days=1))]
    start, end = bounds[0], bounds[-1]
    for index, row in _by_day(bounds).items():
        days[index].placed, days[index].orders = row[0], row[1]
        days[index].gross_cents, days[index].net_cents = row[2], row[3]
    customers = _new_customers(start, bounds[DAYS - 7], bounds[DAYS - 1], end)
    periods = []
    for key, length, new in (("today", 1, customers[0]), ("7", 7, customers[1]), ("30", DAYS, customers[2])):
        span = days[-length:]
        periods.append(Period(key, sum(d.orders for d in span), sum(d.gross_cents for d in span),
                              sum(d.net_cents for d in span), new))
    carts, checkouts = _carts(start, end)
    low_count, low = _low_stock(default_threshold)
    return Figures(
        computed_at=at, days=days, periods=periods, by_state=_by_state(),
        top_products=_top_products(start, end), low_stock=low, low_stock_count=low_count,
        funnel={"carts": carts, "checkouts": checkouts, "orders": sum(d.placed for d in days)},
    )


def _by_day(bounds: list[dt.datetime]) -> dict[int, tuple[int, int, int, int]]:
    """Per day (its index): orders placed, orders counted, gross and net revenue."""
    start, end = bounds[0], bounds[-1]
    in_period = (Order.placed_at >= start) & (Order.placed_at < end)
    placed = Order.alias("placed")
    refunds = (Refund.select(Refund.order.alias("order_id"), fn.SUM(Refund.amount_cents).alias("amount"))
               .where((Refund.state == SUCCEEDED) & Refund.order.in_(
                   placed.select(placed.id).where((placed.placed_at >= start) & (placed.placed_at < end))))
               .group_by(Refund.order).alias("refunds"))
    refunded = fn.COALESCE(refunds.c.amount, 0)
    total, net = Order.total_cents, Order.total_cents - Order.vat_cents
    # The net part of a refund, rounded half up, in 64-bit integers on both databases.
    refunded_net = Case(None, [(total > 0, (refunded.cast("BIGINT") * 2 * net + total) / (total * 2))], 0)
    counted = Order.status.not_in(NOT_COUNTED)
    day = Case(None, [(Order.placed_at < bound, index) for index, bound in enumerate(bounds[1:-1])], len(bounds) - 2)
    rows = (Order.select(
                day.alias("day"),
                Case(None, [(counted, 1)], 0).alias("counted"),
                Case(None, [(counted, total - refunded)], 0).alias("gross"),
                Case(None, [(counted, net - refunded_net)], 0).alias("net"))
            .join(refunds, JOIN.LEFT_OUTER, on=(refunds.c.order_id == Order.id))
            .where(in_period))
    per_day = (rows.select_from(rows.c.day, fn.COUNT(1), fn.SUM(rows.c.counted), fn.SUM(rows.c.gross),
                                fn.SUM(rows.c.net))
               .group_by(rows.c.day).tuples())
    return {int(d): (int(placed), int(counted or 0), int(gross or 0), int(net_cents or 0))
            for d, placed, counted, gross, net_cents in per_day}


def _new_customers(start: dt.datetime, week: dt.datetime, today: dt.datetime, end: dt.datetime) -> tuple[int, ...]:
    """Customer accounts registered today, in 7 and in 30 days."""
    since = [fn.SUM(Case(None, [(User.created_at >= bound, 1)], 0)) for bound in (today, week)]
    row: Any = (User.select(*since, fn.COUNT(User.id))
                .where((User.role == CUSTOMER) & (User.created_at >= start) & (User.created_at < end))
                .tuples().get())
    return tuple(int(n or 0) for n in row)


def _by_state() -> list[tuple[str, int]]:
    rows: Any = Order.select(Order.status, fn.COUNT(Order.id)).group_by(Order.status).tuples()
    counts: dict[str, int] = dict(rows)
    return [(status, int(counts.pop(status, 0))) for status in TRANSITIONS] + sorted(counts.items())


def _top_products(start: dt.datetime, end: dt.datetime) -> list[tuple[int, str, str, int, int]]:
    gross = fn.SUM(OrderLine.total_cents)
    best = (OrderLine.select(OrderLine.product.alias("product_id"), fn.SUM(OrderLine.quantity).alias("quantity"),
                             gross.alias("gross"))
            .join(Order, on=(OrderLine.order == Order.id))
            .where((Order.placed_at >= start) & (Order.placed_at < end) & Order.status.not_in(NOT_COUNTED)
                   & OrderLine.product.is_null(False))
            .group_by(OrderLine.product)
            .order_by(gross.desc(), OrderLine.product).limit(TOP_PRODUCTS).alias("best"))
    query: Any = (Product.select(Product.id, Product.name, Product.sku, best.c.quantity, best.c.gross)
             .join(best, on=(best.c.product_id == Product.id))
             .order_by(best.c.gross.desc(), Product.id).tuples())
    return [(pid, name, sku, int(quantity), int(cents)) for pid, name, sku, quantity, cents in query]


def _low_stock(default_threshold: int) -> tuple[int, list[tuple[int, str, str, int, int]]]:
    """Active products at or below their reorder level: how many, and the lowest first."""
    threshold = fn.COALESCE(Product.low_stock_threshold, default_threshold)
    # The highest level any product has bounds the stock to look at: the database reads
    # the few products that low through the stock's index, not the whole catalogue.
    highest = max(default_threshold, Product.select(fn.MAX(Product.low_stock_threshold)).scalar() or 0)
    low = (Product.stock <= highest) & (Product.active == True) & (Product.stock <= threshold)  # noqa: E712
    rows: list[Any] = list(
        Product.select(Product.id, Product.name, Product.sku, Product.stock, threshold,
                       fn.COUNT(Product.id).over())  # how many in all, in the same pass
        .where(low).order_by(Product.stock, Product.name, Product.id).limit(LOW_STOCK_SHOWN).tuples())
    return (int(rows[0][5]) if rows else 0,
            [(pid, name, sku, int(stock), int(level)) for pid, name, sku, stock, level, _ in rows])


def _carts(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """Carts created and checkouts started in the period, in one query."""
    created = Cart.select(fn.COUNT(Cart.id)).where((Cart.created_at >= start) & (Cart.created_at < end))
    started = Cart.select(fn.COUNT(Cart.id)).where(
        (Cart.checkout_started_at >= start) & (Cart.checkout_started_at < end))
    row = db.execute(Select(columns=[created, started])).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def latest_orders() -> list[Order]:
    return list(Order.select(Order.id, Order.number, Order.placed_at, Order.customer_name, Order.email,
                             Order.status, Order.payment_status, Order.total_cents)
                .order_by(Order.placed_at.desc(), Order.id.desc()).limit(LATEST_ORDERS))


# -- kept for a minute -------------------------------------------------------------------

_kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # database -> (minute, threshold, Figures)
_computing = threading.Lock()


def figures(default_threshold: int) -> Figures:
    """The figures of this minute: computed by the first request in it, then shared."""
    moment = now()
    minute = moment.replace(second=0, microsecond=0)
    database = db.obj
    with _computing:
        kept = _kept.get(database)
        if kept is None or kept[:2] != (minute, default_threshold):
            kept = _kept[database] = (minute, default_threshold,
                                      compute(local_day(moment), default_threshold, moment))
        return kept[2]


def dashboard_data(default_threshold: int) -> tuple[Figures, list[Order]]:
    return figures(default_threshold), latest_orders()


# -- what the page shows -----------------------------------------------------------------

@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: Day
    label: str  # the day, long: "Mo., 3. März"
    short_label: str  # "Mo., 3. März" as a table row fits a phone: "Mo., 3.3."


def chart(days: list[Day], locale: str) -> dict:
    """The bars of the revenue chart in the SVG's units, and the labels around it."""
    top = max((d.gross_cents for d in days), default=0)
    scale = _nice_ceiling(top)
    slot = CHART_WIDTH / len(days)
    bars = []
    for n, d in enumerate(days):
        height = CHART_HEIGHT * max(d.gross_cents, 0) / scale if scale else 0
        if d.gross_cents > 0:
            height = max(height, 1.5)  # a small day stays visible
        bars.append(Bar(round(n * slot + slot * .15, 2), round(CHART_HEIGHT - height, 2), round(slot * .7, 2),
                        round(height, 2), d, babel_date(d.day, "EEE, d. MMMM", locale=locale),
                        babel_date(d.day, "EEE, d.M.", locale=locale)))
    return {
        "bars": bars, "scale_cents": scale, "width": CHART_WIDTH, "height": CHART_HEIGHT,
        "grid": [round(CHART_HEIGHT * part / 4, 2) for part in range(4)],
        "ticks": [babel_date(days[n].day, "d. MMM", locale=locale) for n in (0, len(days) // 2, len(days) - 1)],
        "best": max(days, key=lambda d: d.gross_cents) if top > 0 else None,
    }


def _nice_ceiling(cents: int) -> int:
    """The chart's top: the next round amount (1, 2, 2.5 or 5 × a power of ten) above `cents`."""
    if cents <= 0:
        return 0
    power = 100  # one euro
    while True:
        for step in (1, 2, 2.5, 5):
            if cents <= step * power:
                return int(step * power)
        power *= 10


def percent(part: int, whole: int, locale: str) -> str | None:
    return format_percent(part / whole, "#,##0.#\u00a0%", locale=locale) if whole else None


async def dashboard(request: Request):
    settings = request.app.state.settings
    data, orders = await run_db(dashboard_data, settings.low_stock_threshold)
    view = data.view(babel_locale())
    if "panels" not in view:
        # The same for every admin in this minute: rendered once, not on every request.
        view["panels"] = Markup(request.app.state.templates.get_template(PANELS).render(figures=data, **view))
    return render(request, "admin/index.html", {"orders": orders, **view})


routes = [
    Route("/", dashboard, name="dashboard"),
]
