"""Kernel generation as autograd functions with hand-written backwards, one call per layer and step.

The forms (hyperconv.py says what each is):
  lean   K[i,j] = (z_out[i] z_in[j] A[i,j] + C[i,j]) * mask        (A, C in R^{k^2})
  dhp    K[i,j] = (((z_out[i] z_in[j] + B0) W1 + B1) @ W2 + B2) * mask   (DHP's three layers)
The lean form is what the DHP form computes once its linear layers are multiplied out
(A = W1 @ W2, C = B0 A + B1 @ W2 + B2), at 2k^2 numbers per entry pair instead of 1 + 2m + k^2 m + k^2.
Each is a few whole-tensor operations; autograd's own backward of DHP's per-entry (1 x m) @ (m x k^2)
products ran as ~65k tiny matrix products per layer. The gradients are the chain rule written out,
checked against autograd in tests/test_generation.py. `mask` is mask_out[i] mask_in[j], exactly 0 or 1
(times the probe whose gradient ranks the channels).
"""

from __future__ import annotations

import torch


class _LeanKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z_out, z_in, mask_out, mask_in, a, c):  # noqa: ANN001
        scale = torch.outer(z_out, z_in)  # (o, i)
        mask = torch.outer(mask_out, mask_in)  # (o, i)
        kernel = torch.addcmul(c, a, scale.unsqueeze(-1))
        kernel.mul_(mask.unsqueeze(-1))  # (o, i, k^2)
        ctx.save_for_backward(z_out, z_in, mask_out, mask_in, a, c, scale, mask)
        return kernel

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001
        z_out, z_in, mask_out, mask_in, a, c, scale, mask = ctx.saved_tensors
        need = ctx.needs_input_grad
        g_out = g_in = g_mask_out = g_mask_in = g_a = g_c = None
        g_kernel = grad * mask.unsqueeze(-1)  # (o, i, k^2): also C's gradient
        if need[5]:
            g_c = g_kernel
        if need[4]:
            g_a = g_kernel * scale.unsqueeze(-1)
        if any(need[:4]):
            along_a = torch.linalg.vecdot(grad, a)  # (o, i): sum over k^2 of grad * A
            if need[0] or need[1]:
                g_scale = along_a * mask
                g_out = g_scale @ z_in if need[0] else None
                g_in = g_scale.t() @ z_out if need[1] else None
            if need[2] or need[3]:  # d/d mask of (scale A + C) * mask
                g_mask = torch.addcmul(torch.linalg.vecdot(grad, c), along_a, scale)
                g_mask_out = g_mask @ mask_in if need[2] else None
                g_mask_in = g_mask.t() @ mask_out if need[3] else None
        return g_out, g_in, g_mask_out, g_mask_in, g_a, g_c


class _DHPKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2):  # noqa: ANN001
        latent = torch.addr(b0, z_out, z_in)  # (o, i): Z = z_out z_in^T + B0
        embedding = torch.addcmul(b1, latent.unsqueeze(-1), w1)  # (o, i, m): E = Z W1 + B1
        kernel = torch.matmul(embedding.unsqueeze(-2), w2).squeeze(-2).add_(b2)  # (o, i, k^2)
        mask = torch.outer(mask_out, mask_in)  # (o, i)
        ctx.save_for_backward(z_out, z_in, mask_out, mask_in, w1, w2, latent, embedding, kernel, mask)
        return kernel * mask.unsqueeze(-1)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001
        z_out, z_in, mask_out, mask_in, w1, w2, latent, embedding, kernel, mask = ctx.saved_tensors
        need = ctx.needs_input_grad
        g_out = g_in = g_mask_out = g_mask_in = g_b0 = g_w1 = g_b1 = g_w2 = g_b2 = None
        if need[2] or need[3]:
            g_mask = (grad * kernel).sum(-1)  # (o, i)
            g_mask_out = g_mask @ mask_in if need[2] else None
            g_mask_in = g_mask.t() @ mask_out if need[3] else None
        g_kernel = grad * mask.unsqueeze(-1)  # (o, i, k^2)
        g_b2 = g_kernel if need[8] else None
        if need[7]:
            g_w2 = embedding.unsqueeze(-1) * g_kernel.unsqueeze(-2)  # (o, i, m, k^2)
        if any(need[:2]) or any(need[4:7]):
            g_embedding = torch.matmul(w2, g_kernel.unsqueeze(-1)).squeeze(-1)  # (o, i, m)
            g_b1 = g_embedding if need[6] else None
            g_w1 = g_embedding * latent.unsqueeze(-1) if need[5] else None
            g_latent = (g_embedding * w1).sum(-1)  # (o, i)
            g_b0 = g_latent if need[4] else None
            g_out = g_latent @ z_in if need[0] else None
            g_in = g_latent.t() @ z_out if need[1] else None
        return g_out, g_in, g_mask_out, g_mask_in, g_b0, g_w1, g_b1, g_w2, g_b2


def lean_kernel(z_out: torch.Tensor, z_in: torch.Tensor, mask_out: torch.Tensor, mask_in: torch.Tensor,
                a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Masked kernel (c_out, c_in, k^2):
    K[i,j] = (z_out[i] z_in[j] A[i,j] + C[i,j]) mask_out[i] mask_in[j]."""
    return _LeanKernel.apply(z_out, z_in, mask_out, mask_in, a, c)


def dhp_kernel(z_out: torch.Tensor, z_in: torch.Tensor, mask_out: torch.Tensor, mask_in: torch.Tensor,
               b0: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
               b2: torch.Tensor) -> torch.Tensor:
    """Masked kernel (c_out, c_in, k^2):
    K[i,j] = ((z_out[i] z_in[j] + B0[i,j]) W1[i,j] + B1[i,j]) @ W2[i,j] + B2[i,j], times
    mask_out[i] mask_in[j]."""
    return _DHPKernel.apply(z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2)
