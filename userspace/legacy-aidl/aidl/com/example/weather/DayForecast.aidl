package com.example.weather;

parcelable DayForecast {
    long day;
    int highTenths;
    int lowTenths;
    int sky;
}
