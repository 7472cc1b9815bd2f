"""Path mapping: the setting's format, component-wise prefixes, Windows paths onto POSIX ones."""
import pytest

from common.errors import ConfigurationError
from common.pathmap import map_path, normalize, parse_path_map


@pytest.mark.parametrize(
    "setting, stash_path, plex_path",
    [
        ("/data/videos=>/media/videos", "/data/videos/a/b.mp4", "/media/videos/a/b.mp4"),
        ("/data/videos/=>/media/videos/", "/data/videos/a/b.mp4", "/media/videos/a/b.mp4"),
        ("/data/videos=>/media/videos", "/data/videos2/x.mp4", "/data/videos2/x.mp4"),
        (r"D:\Stash=>/mnt/stash", r"D:\Stash\Sub\F.mp4", "/mnt/stash/Sub/F.mp4"),
        (r"D:\Stash=>/mnt/stash", r"d:\stash\Sub\F.mp4", "/mnt/stash/Sub/F.mp4"),
        (r"D:\Stash=>/mnt/stash", "D:/Stash/a.mp4", "/mnt/stash/a.mp4"),
        (r"/data=>\\nas\share", "/data/a/b.mkv", r"\\nas\share\a\b.mkv"),
        (r"/x/=>C:\Media\\", "/x/y/z.mkv", r"C:\Media\y\z.mkv"),
        ("/data=>/a; /data/videos=>/b", "/data/videos/c.mp4", "/b/c.mp4"),
        ("", "/data/videos/c.mp4", "/data/videos/c.mp4"),
    ],
)
def test_map_path(setting, stash_path, plex_path):
    assert map_path(stash_path, parse_path_map(setting)) == plex_path


def test_posix_prefixes_are_case_sensitive():
    rules = parse_path_map("/Data=>/media")
    assert map_path("/data/x.mp4", rules) == "/data/x.mp4"


@pytest.mark.parametrize("setting", ["/a=/b", "/a=>", "=>/b", "/a=>/b=>/c"])
def test_bad_pairs_name_the_entry(setting):
    with pytest.raises(ConfigurationError) as caught:
        parse_path_map(setting)
    assert setting.strip() in str(caught.value)
    assert "Settings → Plugins → PlexSync" in str(caught.value)


def test_normalize_folds_windows_paths_only():
    assert normalize(r"C:\Videos\\A.MP4") == "c:/videos/a.mp4"
    assert normalize("/Videos//A.MP4/") == "/Videos/A.MP4"
