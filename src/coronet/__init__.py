"""coronet: compress image-to-image GANs to a budget you choose (CoroNetGAN)."""
