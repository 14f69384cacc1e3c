"""How dates, times, fees and day choices read on pages and in emails (US English)."""
from datetime import date, datetime

CURRENCY_SYMBOLS = {"USD": "$"}


def long_date(day: date) -> str:
    """E.g. "Thursday, September 23, 2027"."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def short_date(day: date) -> str:
    """E.g. "Thu, Sep 23"."""
    return f"{day:%a}, {day:%b} {day.day}"


def date_span(first: date, last: date) -> str:
    """E.g. "September 23–24, 2027", or one long date for a one-day event."""
    if first == last:
        return long_date(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first:%B} {first.day}–{last.day}, {first.year}"
    if first.year == last.year:
        return f"{first:%B} {first.day} – {last:%B} {last.day}, {first.year}"
    return f"{first:%B} {first.day}, {first.year} – {last:%B} {last.day}, {last.year}"


def clock(moment: datetime) -> str:
    """E.g. "8:30 a.m." or "noon"."""
    if moment.hour == 12 and moment.minute == 0:
        return "noon"
    hour = moment.hour % 12 or 12
    suffix = "a.m." if moment.hour < 12 else "p.m."
    return f"{hour}:{moment.minute:02d} {suffix}"


def utc_offset(moment: datetime) -> str:
    """E.g. "UTC−4" for an aware datetime in Eastern Daylight Time."""
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "−" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def time_range(start: datetime, end: datetime) -> str:
    """E.g. "8:30 a.m. – 5:30 p.m. EDT (UTC−4)"; both ends aware, in the event's zone."""
    return f"{clock(start)} – {clock(end)} {start.tzname()} ({utc_offset(start)})"


def moment(aware: datetime) -> str:
    """E.g. "Wednesday, September 22, 2027 at 11:59 p.m. EDT"."""
    return f"{long_date(aware.date())} at {clock(aware)} {aware.tzname()}"


def money(cents: int, currency: str) -> str:
    if cents == 0:
        return "No fee"
    amount = f"{cents // 100:,}.{cents % 100:02d}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def place(city: str, region: str) -> str:
    """The city in prose: "Washington, D.C." (as every page writes it), else e.g. "Boston, MA".

    Postal addresses keep the USPS form ("Washington, DC 20001").
    """
    return f"{city}, D.C." if region == "DC" else f"{city}, {region}"


def days_dates(days) -> str:
    """The dates of some of an event's days (in order): "Monday, September 23, 2030" or "September 23–24, 2030"."""
    return date_span(days[0].date, days[-1].date)


def promoted_sentence(count: int) -> str:
    """E.g. "1 person on the waiting list got a seat and has been emailed." (count ≥ 1)."""
    if count == 1:
        return "1 person on the waiting list got a seat and has been emailed."
    return f"{count} people on the waiting list got a seat and have been emailed."


def category_with_fee(category) -> str:
    """E.g. "Society member ($395.00)" or, mid-sentence, "Patient advocate (no fee)"."""
    fee = "no fee" if category.fee_cents == 0 else money(category.fee_cents, category.currency)
    return f"{category.label} ({fee})"


def days_choice_label(all_days, chosen, in_sentence: bool = False) -> str:
    """E.g. "Both days (Thu, Sep 23 and Fri, Sep 24)" or "Day 2 only (Fri, Sep 24)".

    `in_sentence` gives the form that follows "a seat for": "both days (...)", "Day 2 (...)".
    """
    dates = " and ".join(short_date(day.date) for day in chosen)
    if len(chosen) == len(all_days) and len(all_days) > 1:
        label = "both days" if len(all_days) == 2 else f"all {len(all_days)} days"
        return f"{label if in_sentence else label.capitalize()} ({dates})"
    names = " and ".join(day.label for day in chosen)
    return f"{names} ({dates})" if in_sentence else f"{names} only ({dates})"
