"""List filters render as DRP's query values."""

from __future__ import annotations

from drp_plugin.api.filters import (
    Between,
    Eq,
    Except,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Nin,
    Re,
    query,
)


def test_operators_render_like_drp() -> None:
    assert [str(f) for f in (Eq("x"), Ne(3), Lt(1), Lte(2), Gt(1.5), Gte(0), Re("^a.*"))] == [
        "Eq(x)", "Ne(3)", "Lt(1)", "Lte(2)", "Gt(1.5)", "Gte(0)", "Re(^a.*)",
    ]
    assert str(In("a", "b", "c")) == "In(a,b,c)"
    assert str(Nin("a")) == "Nin(a)"
    assert str(Between(1, 5)) == "Between(1,5)"
    assert str(Except("a", "m")) == "Except(a,m)"
    assert str(Eq(True)) == "Eq(true)"
    assert Eq("x") == Eq("x") and Eq("x") != Ne("x")


def test_query_orders_filters_then_options() -> None:
    assert query(
        {"Name": Re("^n"), "Runnable": True, "Arch": "amd64", "Rank": [Gt(1), Lt(5)]},
        sort="Name", reverse=True, limit=10, offset=20,
        slim=["Params", "Meta"], params="a/b,c", aggregate=True, decode=True,
    ) == [
        ("Name", "Re(^n)"), ("Runnable", "true"), ("Arch", "amd64"),
        ("Rank", "Gt(1)"), ("Rank", "Lt(5)"),
        ("sort", "Name"), ("reverse", "true"), ("limit", "10"), ("offset", "20"),
        ("slim", "Params,Meta"), ("params", "a/b,c"), ("aggregate", "true"), ("decode", "true"),
    ]


def test_empty_query() -> None:
    assert query() == []
    assert query(limit=0, reverse=False) == [("limit", "0")]
