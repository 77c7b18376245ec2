"""The review workspace's data layer: the gallery of a case's pictures, near-duplicate stacks and the
reviewers' decisions (categories, proposals for the unit's own hash set).

The web app calls these functions inside its own transactions; none of them commits.
"""
