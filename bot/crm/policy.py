"""Rules from `shop_policy.yml` that the CRM enforces (returns, loyalty, codes).

The actions read the same file for the customer-facing text; this module only
interprets the parts that are rules, with defaults when a key is missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import yaml

from bot import settings
from bot.crm.base import DiscountCode, Loyalty


@dataclass
class ShopPolicy:
    """The shop's rules from shop_policy.yml (returns, shipping, warranty, payment), read through methods
    so callers do not parse YAML."""

    raw: Dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ returns
    @property
    def return_window_days(self) -> int:
        return int((self.raw.get("returns") or {}).get("window_days", 7))

    def return_days_for(self, category: str, product_return_days: Optional[int] = None) -> int:
        """Days after delivery a product may be returned; 0 means not returnable."""
        returns = self.raw.get("returns") or {}
        if category in (returns.get("non_returnable_categories") or []):
            return 0
        if product_return_days is not None:
            return max(0, int(product_return_days))
        by_category = returns.get("by_category") or {}
        if category in by_category:
            return max(0, int(by_category[category]))
        return self.return_window_days

    # ------------------------------------------------------------------ categories
    def category_words(self, category: str) -> List[str]:
        entry = (self.raw.get("categories") or {}).get(category) or {}
        words = [str(entry.get("fa", "")), str(entry.get("en", ""))]
        words += [str(w) for w in entry.get("keywords") or []]
        return [w for w in words if w]

    # ------------------------------------------------------------------ where and when
    def city_names(self) -> Dict[str, List[str]]:
        """City id → the names customers write for it (its fa and en names and `also`)."""
        names: Dict[str, List[str]] = {}
        for city, entry in (self.raw.get("cities") or {}).items():
            entry = entry or {}
            names[str(city)] = [str(n) for n in [entry.get("fa"), entry.get("en"), *(entry.get("also") or [])] if n]
        return names

    def shipping_methods_in(self, city: Optional[str]) -> List[Dict[str, Any]]:
        """The shipping methods that deliver in `city` (all of them when no city is given);
        a method with `only_in` serves those cities only (the Tehran courier)."""
        return [m for m in (self.raw.get("shipping") or {}).get("methods") or [] if _serves(m, city)]

    def payment_methods_in(self, city: Optional[str]) -> List[Dict[str, Any]]:
        """The payment methods a customer in `city` can use (cash on delivery is Tehran's only)."""
        return [m for m in self.raw.get("payment_methods") or [] if _serves(m, city)]

    def payment_method(self, method_id: str) -> Optional[Dict[str, Any]]:
        return next((m for m in self.raw.get("payment_methods") or [] if m.get("id") == method_id), None)

    def opening_hours_on(self, weekday: str) -> Optional[str]:
        """The shop's hours on `weekday` ("9:00–18:00"); None when it is closed that day."""
        hours = ((self.raw.get("contact") or {}).get("opening_hours") or {}).get(weekday)
        return str(hours) if hours else None

    @property
    def has_opening_hours(self) -> bool:
        return bool((self.raw.get("contact") or {}).get("opening_hours"))

    # ------------------------------------------------------------------ loyalty
    @property
    def toman_per_point(self) -> int:
        return int((self.raw.get("loyalty") or {}).get("toman_per_point", 10000)) or 10000

    @property
    def levels(self) -> List[Tuple[str, int]]:
        levels = (self.raw.get("loyalty") or {}).get("levels") or [
            {"name": "bronze", "min_points": 0}, {"name": "silver", "min_points": 2000},
            {"name": "gold", "min_points": 10000}, {"name": "platinum", "min_points": 30000},
        ]
        return sorted(((str(l["name"]), int(l["min_points"])) for l in levels), key=lambda x: x[1])

    def loyalty_for(self, customer_id: str, points: int) -> Loyalty:
        level, next_level, to_next = self.levels[0][0], None, 0
        for name, minimum in self.levels:
            if points >= minimum:
                level = name
            else:
                next_level, to_next = name, minimum - points
                break
        return Loyalty(customer_id=customer_id, points=points, level=level,
                       next_level=next_level, points_to_next=to_next)

    @property
    def referral_bonus_points(self) -> int:
        return int((self.raw.get("referral") or {}).get("bonus_points", 0))

    # ------------------------------------------------------------------ discount codes
    def discount_codes(self) -> List[DiscountCode]:
        codes = []
        for entry in self.raw.get("discount_codes") or []:
            description = entry.get("description") or {}
            codes.append(DiscountCode(
                code=str(entry["code"]).strip().upper(), kind=str(entry.get("kind", "percent")),
                value=int(entry["value"]), min_total=int(entry.get("min_total") or 0),
                max_discount=_opt_int(entry.get("max_discount")),
                usage_limit=_opt_int(entry.get("usage_limit")),
                starts_at=parse_datetime(entry.get("starts_at")),
                expires_at=parse_datetime(entry.get("expires_at")),
                active=bool(entry.get("active", True)),
                description_fa=str(description.get("fa", "")), description_en=str(description.get("en", "")),
            ))
        return codes


def _serves(entry: Dict[str, Any], city: Optional[str]) -> bool:
    """A shipping or payment method is available in `city`: it names no cities, or names this one."""
    only_in = [str(c) for c in entry.get("only_in") or []]
    return not only_in or city is None or city in only_in


def _opt_int(value: Any) -> Optional[int]:
    return None if value is None or value == "" else int(value)


def parse_datetime(value: Any) -> Optional[dt.datetime]:
    """ISO 8601 (date or datetime, `Z` allowed) to aware UTC; naive means UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace("Z", "+00:00")
        if len(text) == 10:
            parsed = dt.datetime.fromisoformat(text + "T00:00:00")
        else:
            parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


_cache: Dict[str, ShopPolicy] = {}


def load_policy(path: Union[str, Path, None] = None) -> ShopPolicy:
    """The shop policy at `path` (default `shop_policy.yml`), cached by path and mtime."""
    path = Path(path or settings.SHOP_POLICY_FILE)
    try:
        key = f"{path}:{path.stat().st_mtime_ns}"
    except FileNotFoundError:
        return ShopPolicy({})
    if key not in _cache:
        with open(path, encoding="utf-8") as handle:
            _cache[key] = ShopPolicy(yaml.safe_load(handle) or {})
    return _cache[key]
