package com.example.gallery;

parcelable PhotoInfo {
    long id;
    String name;
    /** Seconds since the epoch. */
    long time;
    long sizeBytes;
}
