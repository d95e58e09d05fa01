"""The tour disk's tar archive extracts into one folder named after the tour, whatever the name holds."""

import io
import tarfile

from preau.contents import tours
from preau.contents.models import Tour


def test_archive_stays_in_one_folder_whatever_the_tour_name(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "receipts").mkdir(parents=True)
    (bundle / "packs").mkdir()
    (bundle / "preau-bundle.json").write_text("{}")
    (bundle / "packs" / "pack-0000.zst").write_bytes(b"x" * 1000)
    for name, folder in (("Tournée d'octobre", "preau-Tournée d'octobre"), ("a/../../b", "preau-a-..-..-b"),
                         ("..", "preau-.."), ("x\\y\nz", "preau-x-y-z")):
        tour = Tour(pk=7, name=name, bundle_path=str(bundle))
        assert tours.archive_folder(tour) == folder
        with tarfile.open(fileobj=io.BytesIO(b"".join(tours.stream_tar(tour)))) as tar:
            names = tar.getnames()
            assert sorted(names) == sorted(f"{folder}/{p}" for p in (
                "receipts", "packs", "preau-bundle.json", "packs/pack-0000.zst"))
            out = tmp_path / "usb" / str(len(name))
            tar.extractall(out, filter="data")  # the data filter refuses any member leaving `out`
        assert (out / folder / "packs" / "pack-0000.zst").read_bytes() == b"x" * 1000
        assert [p.name for p in out.iterdir()] == [folder]
