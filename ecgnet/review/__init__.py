"""Label review: find suspect labels (`audit`), build a blinded review kit (`sheet`, `kit`),
measure agreement of the reviewers' answers (`agreement`) and turn them into label overrides
for training (`relabel`). Needs the `review` extras (cleanlab, statsmodels, matplotlib)."""
