"""Active learning: which unlabelled texts to label next (pure).

The head is least sure where its two best labels are closest, so texts are ranked by the
margin between the highest and the second-highest probability, smallest first (ties: higher
entropy first, then input order). Labelling those first moves the decision boundary most.
"""
import math


def margin(probs):
    """Top probability minus the runner-up (1.0 for a single label)."""
    best = -1.0
    second = -1.0
    for p in probs:
        if p > best:
            second = best
            best = p
        elif p > second:
            second = p
    return best - second if second >= 0 else 1.0


def entropy(probs):
    total = 0.0
    for p in probs:
        if p > 0:
            total -= p * math.log(p)
    return total


def uncertainty_order(prob_rows):
    """Indices of ``prob_rows`` (one probability list per text), most uncertain first."""
    keyed = []
    for i in range(len(prob_rows)):
        keyed.append([margin(prob_rows[i]), -entropy(prob_rows[i]), i])

    def before(a, b):
        for j in range(3):
            if a[j] < b[j]:
                return True
            if a[j] > b[j]:
                return False
        return False

    # Insertion sort on explicit keys: the same order in CPython and in the browser.
    for i in range(1, len(keyed)):
        item = keyed[i]
        j = i - 1
        while j >= 0 and before(item, keyed[j]):
            keyed[j + 1] = keyed[j]
            j -= 1
        keyed[j + 1] = item
    return [entry[2] for entry in keyed]
