"""Classify hotline free text (Chinese) into a taxonomy category by keyword hits."""

from __future__ import annotations

from riskwatch.config.models import TaxonomyConfig


class KeywordClassifier:
    """The category whose keywords occur most often in the text wins; ties go to config order.

    With no keyword hit, the operator's category text is matched against category names, and
    failing that the taxonomy's default category is used.
    """

    def __init__(self, taxonomy: TaxonomyConfig) -> None:
        self._keywords = [(c.code, tuple(c.keywords)) for c in taxonomy.categories]
        self._by_name = {c.name: c.code for c in taxonomy.categories}
        self._by_name.update({c.code: c.code for c in taxonomy.categories})
        self._default = taxonomy.default_category

    def classify(self, text: str, category_text: str = "") -> str:
        best_code, best_hits = None, 0
        for code, keywords in self._keywords:
            hits = sum(text.count(word) for word in keywords)
            if hits > best_hits:
                best_code, best_hits = code, hits
        if best_code:
            return best_code
        hint = category_text.strip()
        if hint in self._by_name:
            return self._by_name[hint]
        for name, code in self._by_name.items():
            if hint and (name in hint or hint in name):
                return code
        return self._default
