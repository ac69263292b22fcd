"""The margin family's references: NumPy formulas, the PyTorch oracle call and finite differences."""

import numpy as np


def torch_value_and_grads(torch, func, preds, others, kwargs, grad_output):
    """PyTorch's loss and the gradients of ``sum(grad_output * loss)`` w.r.t. ``preds``."""
    tensors = [torch.tensor(np.array(p), requires_grad=True) for p in preds]
    rest = [torch.tensor(np.array(o)) if isinstance(o, np.ndarray) else o for o in others]
    kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    loss = func(*tensors, *rest, **kw)
    loss.backward(torch.as_tensor(grad_output, dtype=loss.dtype).expand_as(loss))
    grads = [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in tensors]
    return loss.detach().numpy(), grads


def upstream(rng, reduction, loss_shape, dtype):
    """A random upstream gradient of the loss's shape (a scalar for a reduced loss)."""
    if reduction == "none":
        return rng.uniform(-2, 2, size=loss_shape).astype(dtype)
    return dtype(rng.uniform(0.5, 2))


def finite_difference(func, preds, h=1e-6):
    """Central differences of the scalar ``func(*preds)`` w.r.t. every element of ``preds``."""
    grads = []
    for index, pred in enumerate(preds):
        grad = np.zeros_like(pred)
        for pos in np.ndindex(pred.shape):
            shifted = [p.copy() for p in preds]
            shifted[index][pos] += h
            up = func(*shifted)
            shifted[index][pos] -= 2 * h
            down = func(*shifted)
            grad[pos] = (up - down) / (2 * h)
        grads.append(grad)
    return grads


# --- NumPy formulas ---------------------------------------------------------


def ref_multi_margin(x, y, p=1, margin=1.0, weight=None):
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    out = np.zeros(n)
    for i in range(n):
        for j in range(c):
            z = margin - x[i, y[i]] + x[i, j]
            if j != y[i] and z > 0:
                out[i] += w[y[i]] * z**p
    return out / c


def ref_multilabel_margin(x, target):
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        labels = []
        for label in target[i]:
            if label < 0:
                break
            labels.append(label)
        others = [j for j in range(c) if j not in labels]
        out[i] = sum(max(0.0, 1 - x[i, k] + x[i, j]) for k in labels for j in others) / c
    return out


def ref_multilabel_soft_margin(x, y, weight=None):
    w = np.ones(x.shape[-1]) if weight is None else weight
    loss = y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    return (w * loss).mean(axis=-1)


def ref_cosine_embedding(a, b, t, margin=0.0):
    eps = float(np.float32(1e-12))
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))
    return np.where(t == 1, 1 - cos, np.where(t == -1, np.maximum(cos - margin, 0), 0))


def ref_triplet(a, p, n, margin=1.0, norm=2, eps=1e-6, swap=False):
    def dist(u, v):
        return np.linalg.norm(u - v + eps, ord=norm, axis=-1)

    d_neg = dist(a, n)
    if swap:
        d_neg = np.minimum(d_neg, dist(p, n))
    return np.maximum(margin + dist(a, p) - d_neg, 0)


def ref_cosine_distance(x, y):
    nx = np.maximum(np.linalg.norm(x, axis=-1), 1e-8)
    ny = np.maximum(np.linalg.norm(y, axis=-1), 1e-8)
    return 1 - (x * y).sum(-1) / (nx * ny)


def ref_triplet_cosine(a, p, n, margin=1.0, swap=False):
    d_neg = ref_cosine_distance(a, n)
    if swap:
        d_neg = np.minimum(d_neg, ref_cosine_distance(p, n))
    return np.maximum(margin + ref_cosine_distance(a, p) - d_neg, 0)


#: The NumPy reference of each loss (see ``tests/core/test_registry.py``).
REFERENCES = {
    "cosine_embedding_loss": ref_cosine_embedding,
    "multi_margin_loss": ref_multi_margin,
    "multilabel_margin_loss": ref_multilabel_margin,
    "multilabel_soft_margin_loss": ref_multilabel_soft_margin,
    "triplet_margin_loss": ref_triplet,
    "triplet_margin_with_distance_loss": ref_triplet_cosine,
}
