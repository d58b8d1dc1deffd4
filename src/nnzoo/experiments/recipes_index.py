"""Recipes: one command regenerates one published table (``nnzoo reproduce NAME``)."""

from __future__ import annotations

import argparse

from nnzoo.errors import ConfigError

RECIPES = ("larnn-har", "larnn-har-search")


def run_recipe(args: argparse.Namespace) -> int:
    if args.recipe == "larnn-har":
        from nnzoo.experiments.larnn_har import reproduce

        return reproduce(args)
    if args.recipe == "larnn-har-search":
        from nnzoo.experiments.larnn_har_search import reproduce as search

        return search(args)
    raise ConfigError(f"unknown recipe {args.recipe!r}; expected one of: {', '.join(RECIPES)}")
