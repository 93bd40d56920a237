package com.example.gallery;

import com.example.gallery.PhotoInfo;

/** The gallery service legacy apps were written against. */
interface IGalleryService {
    /** Makes an album; its id. EX_ILLEGAL_STATE if it exists. */
    int createAlbum(String name);
    void deleteAlbum(String name);
    String[] listAlbums();
    /** Adds a photo with its thumbnail; its id. */
    long addPhoto(String album, in PhotoInfo photo, in byte[] thumbnail);
    /** Up to `count` photos of an album, from the `first`. */
    PhotoInfo[] listPhotos(String album, int first, int count);
    byte[] getThumbnail(long id);
    void removePhoto(long id);
}
