"""Attribution as a manager reads it: the models side by side as GA4's model comparison shows them, what each
model rewards, the data-driven models' own numbers, and ROI as one wide table per channel. Pure functions: long
tables in, tables of text (c360.report.formats) or of float shares (for charts only) out."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from c360 import attribution
from c360.report.formats import EMPTY, _decimal, count_text, money_text, number_text, percent_text

LABELS = {"first_touch": "First touch", "last_touch": "Last touch", "linear": "Linear", "time_decay": "Time decay",
          "position_based": "Position based", "markov": "Markov", "shapley": "Shapley"}

NOTES = {
    "first_touch": "all the credit to the channel that first brought the customer: it rewards discovery.",
    "last_touch": "all the credit to the last session before the close: it rewards the channel that closes, and is "
                  "the baseline the others are compared with.",
    "linear": "an equal share to every session in the window: it rewards being present throughout the journey.",
    "time_decay": "more credit the closer a session is to the close (half as much `half_life_days` earlier): it "
                  "rewards the final weeks.",
    "position_based": "40% to the first session, 40% to the last, 20% shared by those between: it rewards opening "
                      "and closing.",
    "markov": "credit in proportion to how many won deals would be lost if the channel were removed from the "
              "journeys (its removal effect), learnt from won and lost journeys: it rewards channels won deals "
              "cannot do without.",
    "shapley": "each channel's fair share of the win rate of the channel combinations it appears in, learnt from "
               "won and lost journeys: it rewards channels that take part in combinations that win.",
}


def label(model: str) -> str:
    """A model's name as a reader sees it: `last_touch` -> `Last touch`."""
    return LABELS.get(model, model.replace("_", " ").capitalize())


def model_notes(models: list[str]) -> str:
    """Markdown: one line per model in `models`, in plain words, on what it rewards."""
    return "\n".join(f"- **{label(m)}** gives {NOTES[m]}" if m in NOTES else f"- **{label(m)}**" for m in models)


def _per_model(channels: pd.DataFrame, models: list[str], column: str) -> pd.DataFrame:
    """channel x model of `column` (0 where a model credits a channel nothing), rows by channel."""
    present = [m for m in models if m in set(channels["model"])]
    wide = channels.pivot(index="channel", columns="model", values=column).reindex(columns=present)
    return wide.sort_index().apply(lambda col: col.map(lambda v: 0 if pd.isna(v) else v))


def _with_change(value: Decimal, base: Decimal, text: str) -> str:
    return f"{text} ({percent_text((value - base) / base, signed=True)})" if base != 0 else text


def model_comparison(channels: pd.DataFrame, models: list[str], currency: str, measure: str = "revenue",
                     baseline: str = "last_touch") -> pd.DataFrame:
    """GA4's model comparison: channels as rows (and a Total), models as columns; each cell the model's
    conversions or revenue with its % difference from `baseline` (none where the baseline credits nothing).

    Args:
        channels: model, channel, conversions, conversion_value (a Decimal), one window.
        measure: `revenue` (money with `currency`) or `conversions`.
    """
    column = "conversion_value" if measure == "revenue" else "conversions"
    wide = _per_model(channels, models, column).map(_decimal)
    wide.loc["Total"] = [sum(wide[m], Decimal(0)) for m in wide.columns]
    write = (lambda v: money_text(v, currency)) if measure == "revenue" else count_text
    out = pd.DataFrame({"channel": wide.index})
    for model in wide.columns:
        base = wide[baseline] if baseline in wide.columns and model != baseline else None
        out[label(model)] = [write(v) if base is None else _with_change(v, base.iloc[i], write(v))
                             for i, v in enumerate(wide[model])]
    return out


def channel_shares(channels: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Each channel's share of a model's attributed revenue (floats, for a chart): channel x model label."""
    wide = _per_model(channels, models, "conversion_value").map(lambda v: float(_decimal(v)))
    totals = wide.sum()
    shares = wide.div(totals.where(totals != 0), axis=1).fillna(0.0)
    return shares.rename(columns=label).rename_axis("channel")


def window_shares(channels: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Each channel's share of a model's attributed revenue per window: window_days, model (label), channel,
    share (a float, for charts and a table of percentages)."""
    frame = channels[channels["model"].isin(models)].copy()
    frame["value"] = frame["conversion_value"].map(lambda v: float(_decimal(v)))
    totals = frame.groupby(["window_days", "model"])["value"].transform("sum")
    frame["share"] = (frame["value"] / totals.where(totals != 0)).fillna(0.0)
    frame["rank"] = frame["model"].map({m: i for i, m in enumerate(models)})
    frame = frame.sort_values(["window_days", "rank", "channel"])
    return frame.assign(model=frame["model"].map(label))[["window_days", "model", "channel", "share"]]


def _floats(paths: pd.DataFrame) -> pd.DataFrame:
    """The path table with its value as floats: the channel-level models read counts, not money."""
    return paths.assign(conversion_value=[float(_decimal(v)) for v in paths["conversion_value"]])


def markov_effects(paths: pd.DataFrame) -> pd.DataFrame:
    """Per channel: the chance a journey converts with every channel, without this one, the removal effect,
    and the share of Markov credit the channel gets (its removal effect over the sum of them)."""
    effects = attribution.markov_removal_effects(_floats(paths))
    total = effects["removal_effect"].sum()
    effects["share_of_credit"] = effects["removal_effect"] / total if total > 0 else 0.0
    return effects.rename(columns={"conversion_probability": "conversion probability",
                                   "probability_without": "probability without the channel",
                                   "removal_effect": "removal effect", "share_of_credit": "share of credit"})


def shapley_values(paths: pd.DataFrame) -> pd.DataFrame:
    """Per channel: the Shapley value (in conversion-rate units: won journeys per journey) and the channel's
    share of the won deals (with a journey) it is credited with; its revenue is shared by value per journey."""
    values = attribution.shapley(_floats(paths))
    total = values["shapley_value"].sum()
    return pd.DataFrame({"channel": values["channel"], "Shapley value": values["shapley_value"],
                         "share of won deals": values["shapley_value"] / total if total > 0 else 0.0})


def window_table(shares: pd.DataFrame) -> pd.DataFrame:
    """window_shares as a table of percentages: one row per channel, a (model, `N days`) column per model and
    window."""
    wide = shares.assign(window=shares["window_days"].map(lambda d: f"{d} days")).pivot_table(
        index="channel", columns=["model", "window"], values="share", aggfunc="sum", fill_value=0.0, sort=False)
    windows = sorted(set(shares["window_days"]))
    models = list(dict.fromkeys(shares["model"]))
    wide = wide.sort_index().reindex(columns=pd.MultiIndex.from_product([models, [f"{d} days" for d in windows]]),
                                     fill_value=0.0)
    out = {("", "channel"): list(wide.index)}
    out.update({(model, days.replace(" days", " d")): [percent_text(v) for v in wide[(model, days)]]
                for model, days in wide.columns})
    return pd.DataFrame(out)


def roi_table(roi: pd.DataFrame, models: list[str], currency: str) -> pd.DataFrame:
    """ROI as one wide table per channel (and a Total): spend, then per model revenue, conversions, ROAS
    (revenue / spend) and cost per won deal (spend / conversions), as text, the currency in the headers; columns
    are (group, measure) pairs.
    A ratio with no spend or no conversion shows as a dash. Every channel of `roi` is kept, those with spend and
    no conversion included.

    Args:
        roi: model, channel, attributed_conversions, attributed_revenue (Decimal), spend (Decimal).
    """
    present = [m for m in models if m in set(roi["model"])]
    spend = roi.groupby("channel")["spend"].first().map(_decimal).sort_index()
    spend.loc["Total"] = sum(spend, Decimal(0))
    amount = lambda v: money_text(v, "")  # noqa: E731  (the currency is in the header)
    rows = {("", "channel"): list(spend.index), ("", f"spend ({currency})"): [amount(v) for v in spend]}
    for model in present:
        part = roi[roi["model"] == model].set_index("channel").reindex(spend.index[:-1])
        revenue = part["attributed_revenue"].map(lambda v: Decimal(0) if pd.isna(v) else _decimal(v))
        conversions = part["attributed_conversions"].map(lambda v: Decimal(0) if pd.isna(v) else _decimal(v))
        revenue.loc["Total"], conversions.loc["Total"] = sum(revenue, Decimal(0)), sum(conversions, Decimal(0))
        name = label(model)
        rows[(name, f"revenue ({currency})")] = [amount(v) for v in revenue]
        rows[(name, "conversions")] = [count_text(v) for v in conversions]
        rows[(name, "ROAS")] = [number_text(r / s) if s else EMPTY for r, s in zip(revenue, spend)]
        rows[(name, f"cost per won deal ({currency})")] = [amount(s / c) if s and c else EMPTY
                                             for s, c in zip(spend, conversions)]
    return pd.DataFrame(rows)


def in_parts(table: pd.DataFrame, most: int) -> list[pd.DataFrame]:
    """A table of (group, measure) columns cut into parts of at most `most` groups, as even as can be, each
    repeating the leading columns (group ""), so that a wide table fits a page: 7 models, most 4 -> 4 and 3."""
    lead = [c for c in table.columns if c[0] == ""]
    groups = list(dict.fromkeys(c[0] for c in table.columns if c[0] != ""))
    if len(groups) <= most:
        return [table]
    parts = -(-len(groups) // most)
    size = -(-len(groups) // parts)
    return [table[lead + [c for c in table.columns if c[0] in groups[i:i + size]]]
            for i in range(0, len(groups), size)]
