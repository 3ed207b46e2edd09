import torch

from coronet.gan.image_pool import ImagePool


def test_every_returned_image_is_a_new_fake_or_one_the_pool_held():
    pool = ImagePool(3, seed=0)
    seen = [torch.full((1, 3, 2, 2), float(i)) for i in range(20)]
    for batch in (torch.cat(seen[i:i + 4]) for i in range(0, 20, 4)):
        out = pool.query(batch)
        assert out.shape == batch.shape
        values = {float(v) for v in out[:, 0, 0, 0]}
        newest = int(batch[-1, 0, 0, 0])
        assert values <= set(range(newest + 1))  # nothing the pool was never given
    assert len(pool.images) == 3


def test_a_pool_restored_from_a_checkpoint_answers_on_the_device_of_the_fakes():
    """Checkpoints hold the pool on the CPU; a run resumed on a GPU must get its stored images
    back on the GPU, or torch.cat fails (the meta device stands in for the GPU here)."""
    pool = ImagePool(4, seed=0)
    pool.query(torch.rand(4, 3, 2, 2))
    restored = ImagePool(4, seed=0)
    restored.load_state_dict(pool.state_dict())
    out = restored.query(torch.rand(16, 3, 2, 2, device="meta"))  # 16 draws: some stored images return
    assert out.device.type == "meta" and out.shape == (16, 3, 2, 2)
    # one device for the whole pool, so that the next checkpoint can stack it
    assert {im.device.type for im in restored.images} == {"meta"}
