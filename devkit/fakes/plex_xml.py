"""XML answers of the fake Plex, built per request from the compact state in plex_model.

Element and attribute names follow captures of a real server (../shared/plex/pms-captures,
checked by tests/unit/test_fake_plex_shapes.py): a listing carries truncated tag lists and
Media/Part children, a metadata answer carries every tag, <Field locked> and Media/Part/Stream.
With includeMeta=1 a listing starts with <Meta>: per type the sorts the fake implements, the
fields it can filter by, Plex's quick filters, and the operators per field type (plexapi reads
this before any search with sort= or filters).
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Optional

from devkit.fakes import plex_plays
from devkit.fakes.plex_model import (
    FILTER_FIELDS,
    LISTING_TAG_LIMITS,
    SEARCH_TYPES,
    SECTION_TYPES,
    SORT_KEYS,
    TAG_ELEMENTS,
    Collection,
    Item,
    Library,
    Section,
    tag_name,
)

IDENTIFIER = "com.plexapp.plugins.library"
MEDIA_TAG = {"mediaTagPrefix": "/system/bundle/media/flags/", "mediaTagVersion": "1700000000"}
VERSION = "1.40.2.8395-c67dce28e"
SERVER_DIRECTORIES = ("activities", "butler", "channels", "clients", "devices", "diagnostics", "hubs",
                      "library", "livetv", "media", "metadata", "neighborhood", "playQueues", "player",
                      "playlists", "resources", "search", "server", "servers", "statistics", "system",
                      "transcode", "updater", "user")
SECTION_ART = {"movie": ("/:/resources/movie-fanart.jpg", "/:/resources/movie.png", "Plex Video Files Scanner"),
               "show": ("/:/resources/show-fanart.jpg", "/:/resources/show.png", "Plex Series Scanner")}
VIEW_GROUPS = {1: ("movie", "All Movies"), 2: ("show", "All Shows"), 3: ("season", "All Seasons"),
               4: ("episode", "All Episodes")}
TYPE_TITLES = {"movie": "Movies", "show": "TV Shows", "season": "Seasons", "episode": "Episodes"}
# Advertised sorts per type: (key, defaultDirection, title); the first is the default order.
META_SORTS = {
    "movie": (("titleSort", "asc", "Title"), ("originallyAvailableAt", "desc", "Release Date"),
              ("rating", "desc", "Critic Rating"), ("audienceRating", "desc", "Audience Rating"),
              ("duration", "desc", "Duration"), ("addedAt", "desc", "Date Added"),
              ("lastViewedAt", "desc", "Date Viewed"), ("mediaHeight", "asc", "Resolution")),
    "show": (("titleSort", "asc", "Title"), ("year", "desc", "Year"),
             ("originallyAvailableAt", "desc", "Release Date"), ("rating", "desc", "Critic Rating"),
             ("audienceRating", "desc", "Audience Rating"), ("contentRating", "asc", "Content Rating"),
             ("addedAt", "desc", "Date Added"), ("lastViewedAt", "desc", "Date Viewed")),
    "season": (("index", "asc", "Season"), ("addedAt", "desc", "Date Added"),
               ("lastViewedAt", "desc", "Date Viewed")),
    "episode": (("titleSort", "asc", "Title"), ("originallyAvailableAt", "desc", "Release Date"),
                ("rating", "desc", "Critic Rating"), ("audienceRating", "desc", "Audience Rating"),
                ("duration", "desc", "Duration"), ("addedAt", "desc", "Date Added"),
                ("lastViewedAt", "desc", "Date Viewed"), ("mediaHeight", "asc", "Resolution")),
}
# Plex's quick filters (served by /library/sections/{id}/{filter}, which the fake does not answer).
META_FILTERS = {
    "movie": (("genre", "string", "Genre"), ("year", "integer", "Year"), ("decade", "integer", "Decade"),
              ("contentRating", "string", "Content Rating"), ("collection", "string", "Collection"),
              ("director", "string", "Director"), ("actor", "string", "Actor"), ("writer", "string", "Writer"),
              ("producer", "string", "Producer"), ("country", "string", "Country"),
              ("studio", "string", "Studio"), ("resolution", "string", "Resolution"),
              ("hdr", "boolean", "HDR"), ("unwatched", "boolean", "Unplayed"),
              ("inProgress", "boolean", "In Progress"), ("unmatched", "boolean", "Unmatched"),
              ("label", "string", "Labels")),
    "show": (("genre", "string", "Genre"), ("year", "integer", "Year"), ("collection", "string", "Collection"),
             ("unwatchedLeaves", "boolean", "Unplayed"), ("label", "string", "Labels")),
    "season": (("unwatchedLeaves", "boolean", "Unplayed"),),
    "episode": (("unwatched", "boolean", "Unplayed"), ("inProgress", "boolean", "In Progress"),
                ("label", "string", "Labels")),
}
# Fields the fake can filter by (plex_model.FILTER_FIELDS): (key, title, subType)
META_FIELDS = (("userRating", "Rating", "rating"), ("year", "Year", "year"), ("duration", "Duration", "duration"),
               ("addedAt", "Date Added", None), ("updatedAt", "Date Updated", None),
               ("viewCount", "Plays", None), ("lastViewedAt", "Last Played", None),
               ("lastRatedAt", "Last Rated", None))
FIELD_OPERATORS = (
    ("tag", (("=", "is"), ("!=", "is not"))),
    ("integer", (("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than"))),
    ("string", (("=", "contains"), ("!=", "does not contain"), ("==", "is"), ("!==", "is not"),
                ("<=", "begins with"), (">=", "ends with"))),
    ("boolean", (("=", "is true"), ("!=", "is false"))),
    ("date", (("<<=", "is before"), (">>=", "is after"))),
    ("subtitleLanguage", (("=", "is"), ("!=", "is not"))),
    ("audioLanguage", (("=", "is"), ("!=", "is not"))),
    ("resolution", (("=", "is"),)),
)
assert all(key in SORT_KEYS for sorts in META_SORTS.values() for key, _, _ in sorts)
assert {key for key, _, _ in META_FIELDS} == set(FILTER_FIELDS)
VIDEO_FIELDS = ("titleSort", "originalTitle", "studio", "contentRating", "summary", "rating",
                "audienceRating", "userRating", "lastRatedAt", "viewOffset", "viewCount", "lastViewedAt",
                "year", "tagline", "editionTitle", "originallyAvailableAt", "audienceRatingImage",
                "chapterSource", "primaryExtraKey", "ratingImage")


def to_bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def container(children: list[ET.Element] = (), **attrs: object) -> ET.Element:
    root = ET.Element("MediaContainer", {"size": str(len(children))})
    root.attrib.update({k: str(v) for k, v in attrs.items() if v is not None})
    root.extend(children)
    return root


def server_root(friendly_name: str, machine_identifier: str, updated_at: int) -> ET.Element:
    children = [ET.Element("Directory", {"count": "1", "key": key, "title": key}) for key in SERVER_DIRECTORIES]
    flags = ("allowCameraUpload allowChannelAccess allowMediaDeletion allowSharing allowSync allowTuners "
             "backgroundProcessing certificate companionProxy eventStream hubSearch itemClusters mediaProviders "
             "multiuser myPlex myPlexSubscription offlineTranscode photoAutoTag pluginHost sync "
             "transcoderAudio transcoderLyrics transcoderPhoto transcoderSubtitles transcoderVideo updater "
             "voiceSearch").split()
    return container(children, **dict.fromkeys(flags, 1), countryCode="usa", diagnostics="logs,databases",
                     friendlyName=friendly_name, livetv=7, machineIdentifier=machine_identifier,
                     myPlexMappingState="mapped", myPlexSigninState="ok", myPlexUsername="fake@example.invalid",
                     ownerFeatures="collections,webhooks", platform="Linux", platformVersion="6.1",
                     pushNotifications=0, readOnlyLibraries=0, requestParametersInCookie=1,
                     streamingBrainABRVersion=3, streamingBrainVersion=2, transcoderActiveVideoSessions=0,
                     transcoderVideoBitrates="64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000",
                     transcoderVideoQualities="0,1,2,3,4,5,6,7,8,9,10,11,12",
                     transcoderVideoResolutions="128,128,160,240,320,480,768,720,720,1080,1080,1080,1080",
                     updatedAt=updated_at, version=VERSION)


def library_root() -> ET.Element:
    children = [ET.Element("Directory", {"key": key, "title": title}) for key, title in
                (("sections", "Library Sections"), ("recentlyAdded", "Recently Added Content"),
                 ("onDeck", "On Deck Content"))]
    return container(children, allowSync=0, art="/:/resources/library-art.jpg", content="",
                     identifier=IDENTIFIER, **MEDIA_TAG, title1="Plex Library", title2="")


def sections(sections_: list[Section]) -> ET.Element:
    children = []
    for s in sections_:
        art, thumb, scanner = SECTION_ART[s.type]
        el = ET.Element("Directory", {
            "allowSync": "1", "art": art, "composite": f"/library/sections/{s.key}/composite/{s.created_at}",
            "filters": "1", "refreshing": "0", "thumb": thumb, "key": str(s.key), "type": s.type,
            "title": s.title, "agent": s.agent, "scanner": scanner, "language": "xn", "uuid": s.uuid,
            "updatedAt": str(s.created_at), "createdAt": str(s.created_at), "scannedAt": str(s.created_at),
            "content": "1", "directory": "1", "contentChangedAt": "1", "hidden": "0"})
        for i, path in enumerate(s.locations):
            ET.SubElement(el, "Location", {"id": str(s.key * 100 + i), "path": path})
        children.append(el)
    return container(children, allowSync=0, identifier=IDENTIFIER, **MEDIA_TAG, title1="Plex Library")


def listing(lib: Library, section: Section, search_type: int, keys: list[int], start: int,
            total: int, with_meta: bool = False) -> ET.Element:
    art, thumb, _ = SECTION_ART[section.type]
    view_group, view_title = VIEW_GROUPS[search_type]
    titles = {"title1": view_title} if section.type == "movie" else {"title1": section.title, "title2": view_title}
    if with_meta:  # as in library_movies_filtertypes.xml
        titles = {"title1": section.title, "title2": view_title}
    children = [element(lib, lib.items[key], full=False) for key in keys]
    root = container(children, totalSize=total, offset=start, allowSync=1, art=art, identifier=IDENTIFIER,
                     librarySectionID=section.key, librarySectionTitle=section.title,
                     librarySectionUUID=section.uuid, **MEDIA_TAG, nocache=1, sortAsc=1, thumb=thumb,
                     title=section.title, **titles, viewGroup=view_group, viewMode=131122)
    if with_meta:
        root.insert(0, meta(section, search_type))
    return root


def collections(section: Section, with_meta: bool, found: Optional[list[Collection]] = None, start: int = 0,
                total: Optional[int] = None) -> ET.Element:
    """GET /library/sections/{id}/collections (or /all?type=18): one <Directory> per collection."""
    art, thumb, _ = SECTION_ART[section.type]
    view_group, view_title = VIEW_GROUPS[SECTION_TYPES[section.type][0]]
    children = [collection_element(section, c) for c in found or ()]
    root = container(children, totalSize=len(children) if total is None else total, offset=start, allowSync=1,
                     art=art, identifier=IDENTIFIER,
                     librarySectionID=section.key, librarySectionTitle=section.title,
                     librarySectionUUID=section.uuid, **MEDIA_TAG, sortAsc=1, thumb=thumb,
                     title1=section.title, title2=view_title, viewGroup=view_group, viewMode=131122)
    if with_meta:
        el = ET.Element("Meta")
        kind = ET.SubElement(el, "Type", {"key": f"/library/sections/{section.key}/all?type=18",
                                          "type": "collection", "title": "Collections", "active": "1"})
        kind.append(_sort(section, ("titleSort", "asc", "Title"), "?type=18"))
        el.extend(_field_types())
        root.insert(0, el)
    return root


def collection_element(section: Section, c: Collection) -> ET.Element:
    rk = c.rating_key
    return ET.Element("Directory", {
        "ratingKey": str(rk), "key": f"/library/collections/{rk}/children", "guid": f"collection://{rk}",
        "type": "collection", "title": c.title, "subtype": c.subtype, "summary": c.summary, "index": str(rk),
        "librarySectionID": str(section.key), "librarySectionKey": f"/library/sections/{section.key}",
        "librarySectionTitle": section.title, "childCount": str(len(c.members)), "smart": "0",
        "collectionMode": "-1", "collectionSort": "0", "content": f"/library/sections/{section.key}",
        "thumb": (f"/library/metadata/{rk}/thumb/{c.updated_at}" if c.poster
                  else f"/library/collections/{rk}/composite/{c.updated_at}"), "addedAt": str(c.added_at),
        "updatedAt": str(c.updated_at)})


def meta(section: Section, active_type: int) -> ET.Element:
    el = ET.Element("Meta")
    for search_type in SECTION_TYPES[section.type]:
        kind = SEARCH_TYPES[search_type]
        type_el = ET.SubElement(el, "Type", {
            "key": f"/library/sections/{section.key}/all?type={search_type}", "type": kind,
            "title": TYPE_TITLES[kind], "active": str(int(search_type == active_type))})
        for name, filter_type, title in META_FILTERS[kind]:
            ET.SubElement(type_el, "Filter", {"filter": name, "filterType": filter_type,
                                              "key": f"/library/sections/{section.key}/{name}",
                                              "title": title, "type": "filter"})
        suffix = "" if search_type == SECTION_TYPES[section.type][0] else f"?type={search_type}"
        type_el.extend(_sort(section, sort, suffix, default=i == 0) for i, sort in enumerate(META_SORTS[kind]))
        for key, title, sub_type in META_FIELDS:
            attrs = {"key": key, "title": title, "type": FILTER_FIELDS[key]}
            if sub_type:
                attrs["subType"] = sub_type
            ET.SubElement(type_el, "Field", attrs)
    ET.SubElement(el, "Type", {"key": f"/library/sections/{section.key}/folder", "type": "folder",
                               "title": "Folders", "active": "0"})
    el.extend(_field_types())
    return el


def _sort(section: Section, sort: tuple, suffix: str, default: bool = True) -> ET.Element:
    key, direction, title = sort
    attrs = {"defaultDirection": direction, "descKey": f"{key}:desc", "key": key, "title": title}
    if default:
        attrs = {"active": "1", "activeDirection": direction, "default": direction, **attrs,
                 "firstCharacterKey": f"/library/sections/{section.key}/firstCharacter{suffix}"}
    return ET.Element("Sort", attrs)


def _field_types() -> list[ET.Element]:
    found = []
    for field_type, operators in FIELD_OPERATORS:
        el = ET.Element("FieldType", {"type": field_type})
        for key, title in operators:
            ET.SubElement(el, "Operator", {"key": key, "title": title})
        found.append(el)
    return found


def metadata(lib: Library, items: list[Item]) -> ET.Element:
    section = lib.sections[items[0].section_key]
    return container([element(lib, item, full=True) for item in items], allowSync=1, identifier=IDENTIFIER,
                     librarySectionID=section.key, librarySectionTitle=section.title,
                     librarySectionUUID=section.uuid, **MEDIA_TAG)


def images(item: Item, kind: str, selected: Optional[str]) -> ET.Element:
    children = []
    for key, payload in (item.images or {}).get(kind, []):
        url = f"/library/metadata/{item.rating_key}/file?url={key}"
        children.append(ET.Element("Photo", {"key": url, "ratingKey": key, "selected": str(int(key == selected)),
                                             "thumb": url, "provider": "upload"}))
    return container(children, identifier=IDENTIFIER, **MEDIA_TAG)


def element(lib: Library, item: Item, full: bool) -> ET.Element:
    if item.kind in ("show", "season"):
        return _directory(lib, item, full)
    el = ET.Element("Video", _video_attrs(lib, item))
    for media_id, part_id, path, size in item.media:
        el.append(_media(item, media_id, part_id, path, size, full))
    _append_tags(lib, el, item, full)
    if full:
        for name in sorted(item.locked or ()):
            ET.SubElement(el, "Field", {"locked": "1", "name": name})
    return el


def _base_attrs(lib: Library, item: Item) -> dict[str, str]:
    rk, section = item.rating_key, lib.sections[item.section_key]
    attrs = {"ratingKey": str(rk), "key": f"/library/metadata/{rk}", "guid": item.fields.get("guid", f"local://{rk}"),
             "type": item.kind, "title": item.title, "librarySectionTitle": section.title,
             "librarySectionID": str(section.key), "librarySectionKey": f"/library/sections/{section.key}"}
    attrs["thumb"] = item.fields.get("thumb", f"/library/metadata/{rk}/thumb/{item.updated_at}")
    if "art" in item.fields or lib.selected_image(item, "arts"):
        attrs["art"] = item.fields.get("art", f"/library/metadata/{rk}/art/{item.updated_at}")
    return attrs


def _video_attrs(lib: Library, item: Item) -> dict[str, str]:
    attrs = _base_attrs(lib, item)
    attrs.update({name: item.fields[name] for name in VIDEO_FIELDS if name in item.fields})
    attrs["duration"] = item.fields.get("duration", "1800000")
    attrs["addedAt"], attrs["updatedAt"] = str(item.added_at), str(item.updated_at)
    plex_plays.overlay(item, attrs)  # the view state of the request's account
    if item.kind == "episode":
        season = lib.items[item.parent_key]
        show = lib.items[season.parent_key]
        attrs.update(_lineage("parent", season))
        attrs.update(_lineage("grandparent", show))
        attrs.update(index=str(item.index), parentIndex=str(season.index))
        attrs.setdefault("art", attrs["grandparentArt"])
        if "originallyAvailableAt" in attrs:
            attrs.setdefault("year", attrs["originallyAvailableAt"][:4])
    return attrs


def _lineage(prefix: str, item: Item) -> dict[str, str]:
    rk = item.rating_key
    attrs = {"RatingKey": str(rk), "Key": f"/library/metadata/{rk}", "Title": item.title,
             "Guid": f"local://{rk}", "Thumb": f"/library/metadata/{rk}/thumb/{item.updated_at}",
             "Art": f"/library/metadata/{rk}/art/{item.updated_at}"}
    if prefix == "grandparent":
        attrs["Theme"] = f"/library/metadata/{rk}/theme/{item.updated_at}"
    return {prefix + name: value for name, value in attrs.items()}


def _directory(lib: Library, item: Item, full: bool) -> ET.Element:
    attrs = _base_attrs(lib, item)
    attrs["key"] = f"/library/metadata/{item.rating_key}/children"
    attrs.update({name: item.fields[name] for name in VIDEO_FIELDS if name in item.fields})
    leaves = _leaf_count(lib, item)
    attrs.update(index=str(item.index), leafCount=str(leaves), viewedLeafCount="0",
                 addedAt=str(item.added_at), updatedAt=str(item.updated_at))
    if item.kind == "show":
        attrs["childCount"] = str(len(item.children))
    else:
        attrs.update(_lineage("parent", lib.items[item.parent_key]))
    el = ET.Element("Directory", attrs)
    _append_tags(lib, el, item, full)
    return el


def _leaf_count(lib: Library, item: Item) -> int:
    if item.kind == "season":
        return len(item.children)
    return sum(len(lib.items[key].children) for key in item.children)


def _append_tags(lib: Library, el: ET.Element, item: Item, full: bool) -> None:
    for tag, element_name in TAG_ELEMENTS.items():
        entries = item.tag_list(tag)
        if not full:
            entries = entries[:LISTING_TAG_LIMITS.get(tag, 0)]
        for entry in entries:
            name = tag_name(entry)
            ident = lib.tags.ident(tag, name)
            attrs = {"id": str(ident), "filter": f"{tag}={ident}", "tag": name}
            count = lib.tags.count(tag, name)
            if count > 1:
                attrs["count"] = str(count)
            if tag == "actor":
                attrs.update({k: v for k, v in (("role", entry[2]), ("thumb", entry[1])) if v})
            ET.SubElement(el, element_name, attrs)


def _media(item: Item, media_id: int, part_id: int, path: str, size: int, full: bool) -> ET.Element:
    ext = os.path.splitext(path)[1].lstrip(".").lower() or "mkv"
    duration = item.fields.get("duration", "1800000")
    media = ET.Element("Media", {
        "id": str(media_id), "duration": duration, "bitrate": "7500", "width": "1920", "height": "1080",
        "aspectRatio": "1.78", "audioChannels": "2", "audioCodec": "aac", "videoCodec": "h264",
        "videoResolution": "1080", "container": ext, "videoFrameRate": "24p", "audioProfile": "lc",
        "videoProfile": "high"})
    part = ET.SubElement(media, "Part", {
        "id": str(part_id), "key": f"/library/parts/{part_id}/{item.added_at}/file.{ext}", "duration": duration,
        "file": path, "size": str(size), "audioProfile": "lc", "container": ext, "videoProfile": "high"})
    if full:
        part.extend(_streams(part_id))
    return media


def _streams(part_id: int) -> list[ET.Element]:
    common = {"default": "1", "language": "English", "languageCode": "eng"}
    video = ET.Element("Stream", {
        "id": str(part_id * 10), "streamType": "1", "index": "0", "codec": "h264", "bitrate": "7000",
        "bitDepth": "8", "chromaLocation": "left", "chromaSubsampling": "4:2:0", "codedHeight": "1088",
        "codedWidth": "1920", "frameRate": "23.976", "hasScalingMatrix": "0", "height": "1080", "width": "1920",
        "level": "41", "profile": "high", "refFrames": "4", "scanType": "progressive", "title": "Video",
        "displayTitle": "1080p (H.264)", "extendedDisplayTitle": "1080p (H.264)", **common})
    audio = ET.Element("Stream", {
        "id": str(part_id * 10 + 1), "streamType": "2", "index": "1", "codec": "aac", "bitrate": "192",
        "bitDepth": "16", "channels": "2", "audioChannelLayout": "stereo", "samplingRate": "48000",
        "profile": "lc", "selected": "1", "title": "Stereo", "displayTitle": "English (AAC Stereo)",
        "extendedDisplayTitle": "Stereo (English AAC)", **common})
    subtitle = ET.Element("Stream", {
        "id": str(part_id * 10 + 2), "streamType": "3", "index": "2", "codec": "srt",
        "displayTitle": "English (SRT)", "extendedDisplayTitle": "English (SRT)", **common})
    return [video, audio, subtitle]
