"""The fair-lending screen: owners' self-reported demographics, kept apart from every
feature, rule and model, and the figures that compare decisions across their groups."""
