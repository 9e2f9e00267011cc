"""Real datasets by name, in their standard on-disk formats (see docs/datasets.md).

Every loader returns raw inputs scaled to [0, 1] and integer labels, already split
into train / validation / test. The validation split is carved from the training
data with a seeded, stratified draw: nothing in nnpm ever selects on the test split.
"""
