"""The hypernetwork's kernel generation as one autograd function with a hand-written backward.

It computes exactly DHP's three layers with the alive masks applied (hyperconv.py), but as a few
whole-tensor operations: autograd's own backward of the per-entry (1 x m) @ (m x k^2) products runs
as ~65k tiny matrix products per layer, which cost more than the generator's convolutions on a CPU
(docs/results.md). The gradients are the chain rule written out, checked against autograd in
tests/test_generation.py.
"""

from __future__ import annotations

import torch


class _GenerateKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2):  # noqa: ANN001
        latent = torch.addr(b0, z_out, z_in)  # (o, i): Z = z_out z_in^T + B0
        embedding = torch.addcmul(b1, latent.unsqueeze(-1), w1)  # (o, i, m): E = Z W1 + B1
        kernel = torch.matmul(embedding.unsqueeze(-2), w2).squeeze(-2).add_(b2)  # (o, i, k^2)
        mask = torch.outer(mask_out, mask_in)  # (o, i), exactly 0 or 1 (times the probe)
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


def generate_kernel(z_out: torch.Tensor, z_in: torch.Tensor, mask_out: torch.Tensor,
                    mask_in: torch.Tensor, b0: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor,
                    w2: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """Masked kernel (c_out, c_in, k^2):
    K[i,j] = ((z_out[i] z_in[j] + B0[i,j]) W1[i,j] + B1[i,j]) @ W2[i,j] + B2[i,j], times
    mask_out[i] mask_in[j]."""
    return _GenerateKernel.apply(z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2)
