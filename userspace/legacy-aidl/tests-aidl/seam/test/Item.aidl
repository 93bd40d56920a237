package seam.test;

parcelable Item {
    int id;
    String name;
    long[] values;
}
