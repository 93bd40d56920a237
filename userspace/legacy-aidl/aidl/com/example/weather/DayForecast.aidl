package com.example.weather;

/** One day of a forecast, in the units of the service's conditions. */
parcelable DayForecast {
    /** The model day. */
    long day;
    int highTenths;
    int lowTenths;
    int sky;
}
