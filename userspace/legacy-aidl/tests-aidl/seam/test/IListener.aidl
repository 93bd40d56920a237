package seam.test;

oneway interface IListener {
    void heard(int n);
}
