"""The margin family's references: the PyTorch oracle call and finite differences."""

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
